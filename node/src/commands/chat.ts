import { createInterface } from 'node:readline'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '@securechat/sdk/constants'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeInvite } from '@securechat/sdk/rooms'
import { SEND_FLUSH_MS } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { loadWallet } from '../wallet.ts'
import { type ClientFlags, formatMessage, joinFromFlags, messageToJson, untilSignal } from './room-client.ts'

export interface RoomCreateFlags {
  name: string
  bootstrap?: string[]
  keyFile?: string
  domain?: string[]
  chainId?: string[]
  access?: string
}

/** `securechat room create`: signs a manifest and prints the invite. Needs no network. */
export async function roomCreate(flags: RoomCreateFlags): Promise<void> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const chainIds = (flags.chainId ?? [String(DEVNET_CHAIN_ID)]).map(Number)
  if (chainIds.some((id) => !Number.isSafeInteger(id) || id <= 0))
    throw new ConfigError('--chain-id must be positive integers')
  if (flags.access !== undefined && flags.access !== 'public' && flags.access !== 'invite-only') {
    throw new ConfigError(`--access must be public or invite-only, got ${flags.access}`)
  }
  const manifest = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    name: flags.name,
    access: { type: flags.access ?? 'public' },
    domains: flags.domain ?? [DEFAULT_CLI_DOMAIN],
    chainIds,
  })
  process.stdout.write(`${encodeInvite({ manifest, relays: flags.bootstrap ?? [] })}\n`)
}

export async function send(flags: ClientFlags, text: string): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room } = await joinFromFlags(flags, factory)
  try {
    const result = await room.send(text)
    // Give the record a moment to leave the socket before the process exits.
    await new Promise((resolve) => setTimeout(resolve, SEND_FLUSH_MS))
    process.stdout.write(`${JSON.stringify({ id: result.id, recipients: result.recipients.length })}\n`)
  } finally {
    await client.stop()
  }
}

export async function listen(flags: ClientFlags & { json?: boolean }): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room } = await joinFromFlags(flags, factory)
  process.stderr.write(
    `listening on room ${room.manifest.manifest.name} (${room.id}) as ${client.address} (peer ${client.peerId.toString()})\n`,
  )
  const stop = new AbortController()
  void untilSignal().then(() => stop.abort())
  // What this device cannot read is shown, with why, never dropped silently.
  room.addEventListener('message:undecryptable', ({ detail }) => {
    const line =
      flags.json === true
        ? JSON.stringify({
            type: 'undecryptable',
            roomId: detail.roomId,
            id: detail.id,
            sender: detail.sender,
            senderPeerId: detail.senderPeerId,
            sentAt: new Date(detail.sentAtMs).toISOString(),
            reason: detail.reason,
          })
        : `! a message from ${detail.sender} could not be decrypted: ${detail.reason}`
    process.stdout.write(`${line}\n`)
  })
  for await (const message of room.messages({ signal: stop.signal })) {
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(messageToJson(message))}\n` : `${formatMessage(message)}\n`,
    )
  }
  await client.stop()
}

export async function chat(flags: ClientFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room } = await joinFromFlags(flags, factory)
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
  const print = (line: string): void => {
    process.stdout.write(`\r${line}\n`)
    rl.prompt(true)
  }
  print(`joined ${room.manifest.manifest.name} as ${client.address}; type a message and press Enter, Ctrl-D to leave`)
  room.addEventListener('message:received', (event) => print(formatMessage(event.detail)))
  room.addEventListener('message:undecryptable', ({ detail }) =>
    print(`! a message from ${detail.sender} could not be decrypted: ${detail.reason}`),
  )
  room.addEventListener('member:joined', (event) => print(`* ${event.detail.address} joined`))
  room.addEventListener('member:left', (event) => print(`* ${event.detail.address} left`))
  rl.on('line', (line) => {
    const text = line.trim()
    if (text === '') return rl.prompt()
    room.send(text).then(
      () => rl.prompt(),
      (err: unknown) => print(`! not sent: ${err instanceof Error ? err.message : String(err)}`),
    )
  })
  await Promise.race([new Promise((resolve) => rl.once('close', resolve)), untilSignal()])
  rl.close()
  await client.stop()
}
