import { walletSigner } from '@securechat/sdk/identity'
import { roomIdOf } from '@securechat/sdk/rooms'
import { type SearchResult, searchHistory } from '@securechat/sdk/search'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { openDataDirVault } from '../vault.ts'
import { loadWallet } from '../wallet.ts'
import { isoTime, printable } from './cli-format.ts'
import { resolveRoom } from './room-client.ts'

export interface SearchFlags {
  dataDir: string
  keyFile?: string
  json?: boolean
  room?: string
  dm?: string
  limit?: string
}

/**
 * `securechat search <terms...>`: this device's own history (its vault), across rooms and DMs, without the
 * network. The index lives in the vault only (`@securechat/sdk/search`); the command brings it up to date first.
 */
export async function search(words: string[], flags: SearchFlags): Promise<void> {
  if (flags.room !== undefined && flags.dm !== undefined) throw new ConfigError('search takes --room or --dm, not both')
  const limit = flags.limit === undefined ? undefined : Number(flags.limit)
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new ConfigError(`--limit ${flags.limit} is not a positive whole number`)
  }
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const vault = await openDataDirVault({
    dataDir: flags.dataDir,
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    env: process.env,
  })
  try {
    const roomId =
      flags.room === undefined
        ? undefined
        : roomIdOf((await resolveRoom({ room: flags.room, dataDir: flags.dataDir }, vault)).manifest.manifest)
    const results = await searchHistory(vault, words.join(' '), {
      ...(roomId === undefined ? {} : { roomId }),
      ...(flags.dm === undefined ? {} : { dm: flags.dm }),
      ...(limit === undefined ? {} : { limit }),
      log: createNodeLogger({ json: false, level: 'warn' }).factory('search'),
    })
    for (const result of results) process.stdout.write(`${flags.json === true ? toJson(result) : format(result)}\n`)
    if (results.length === 0 && flags.json !== true) process.stderr.write('no message found\n')
  } finally {
    await vault.close()
  }
}

function toJson(result: SearchResult): string {
  const { conversation } = result
  return JSON.stringify({
    type: 'match',
    ...(conversation.type === 'room'
      ? { roomId: conversation.roomId, room: conversation.name ?? null }
      : { conversation: conversation.address }),
    id: result.id,
    sender: result.sender,
    sentAt: isoTime(result.sentAtMs),
    text: result.text,
    snippet: result.snippet,
    edited: result.edited,
  })
}

function format(result: SearchResult): string {
  const { conversation, sender } = result
  const where =
    conversation.type === 'room'
      ? `#${printable(conversation.name ?? conversation.roomId.slice(0, 12))}`
      : `dm ${conversation.address}`
  const time = isoTime(result.sentAtMs)?.slice(0, 19).replace('T', ' ') ?? '????-??-?? ??:??:??'
  return `${where}  ${time}  ${sender.slice(0, 6)}…${sender.slice(-4)}  ${result.id}  ${printable(result.snippet)}`
}
