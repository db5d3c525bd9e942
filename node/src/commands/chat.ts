import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { conditionsOf, explainGateResult, type GateRule, gateEvaluator, parseGateRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeInvite, loadSavedRooms, type RoomAccess } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { CLI_NETWORK_TIMEOUT_MS, DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID, HISTORY_GAPS_WAIT_MS } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { createRpcProvider } from '../rpc.ts'
import { openDataDirVault } from '../vault.ts'
import { loadWallet } from '../wallet.ts'
import { isoTime } from './cli-format.ts'
import { printTimerEvents } from './disappear.ts'
import { formatRefused, formatUpdate } from './message-updates.ts'
import { printModeration, reportOwnRestriction } from './moderation.ts'
import { reportRelayChanges } from './relay-lines.ts'
import {
  type ClientFlags,
  catchUpFromFlags,
  formatGap,
  formatMessage,
  formatUndecryptable,
  joinFromFlags,
  messageToJson,
  roomWrite,
  untilSignal,
} from './room-client.ts'
import { formatRoomDelivered, printSignals } from './signal-lines.ts'

export interface RoomCreateFlags {
  name: string
  bootstrap?: string[]
  keyFile?: string
  domain?: string[]
  chainId?: string[]
  access?: string
  /** A gate rule (readable form or JSON), or the path of a file that holds one. */
  gate?: string
  /** To name the gate's tokens and check the rule against the chain. */
  rpc?: string
}

/** `securechat room create`: signs a manifest and prints the invite. Needs no network. */
export async function roomCreate(flags: RoomCreateFlags): Promise<void> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const chainIds = (flags.chainId ?? [String(DEVNET_CHAIN_ID)]).map(Number)
  if (chainIds.some((id) => !Number.isSafeInteger(id) || id <= 0))
    throw new ConfigError('--chain-id must be positive integers')
  const accessType = flags.access ?? (flags.gate === undefined ? 'public' : 'gated')
  if (accessType !== 'public' && accessType !== 'invite-only' && accessType !== 'gated') {
    throw new ConfigError(`--access must be public, invite-only or gated, got ${flags.access}`)
  }
  if ((accessType === 'gated') !== (flags.gate !== undefined)) {
    throw new ConfigError('a gated room needs --gate <rule>, and --gate makes a gated room', {
      hint: 'drop --access, or pass --access gated together with --gate',
    })
  }
  let access: RoomAccess
  if (accessType === 'gated') {
    // Readable-form conditions read the first accepted chain; JSON names its own.
    const rule = parseGateRule(await readGateRule(flags.gate!), { chainId: chainIds[0]! })
    const rpc = flags.rpc ?? (process.env.SECURECHAT_RPC || undefined)
    if (rpc !== undefined) await checkGate(rule, rpc, wallet.address)
    access = { type: 'gated', rule }
  } else {
    access = { type: accessType }
  }
  const manifest = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    name: flags.name,
    access,
    domains: flags.domain ?? [DEFAULT_CLI_DOMAIN],
    chainIds,
  })
  process.stdout.write(`${encodeInvite({ manifest, relays: flags.bootstrap ?? [] })}\n`)
}

/** `--gate` (and `gate set`) takes a rule (`erc721:0x…`, JSON) or the path of a file that holds one. */
export async function readGateRule(value: string): Promise<string> {
  if (/^\s*(\{|erc(20|721|1155):)/i.test(value)) return value
  try {
    return await readFile(value, 'utf8')
  } catch (cause) {
    throw new ConfigError(`--gate is neither a rule nor a readable file: ${value}`, {
      cause,
      hint: 'write erc721:<contract>, erc1155:<contract>#<id>:<min>, erc20:<contract>:<min in base units>, or give a JSON file',
    })
  }
}

/** With --rpc: names the gate's tokens and tells the owner whether their own wallet passes. */
async function checkGate(rule: GateRule, rpc: string, owner: string): Promise<void> {
  const provider = createRpcProvider({ url: rpc, chainId: conditionsOf(rule)[0]!.chainId })
  try {
    const evaluator = gateEvaluator()({ provider })
    const result = await evaluator.evaluate(rule, owner, { signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    if (result.status === 'unknown') {
      throw new ConfigError(`the gate cannot be checked: ${result.error?.message ?? 'the chain did not answer'}`, {
        hint: 'check --rpc and the rule’s contract addresses, or create the room without --rpc to skip this check',
      })
    }
    process.stderr.write(`gate: ${await evaluator.describe(rule)}\n`)
    if (result.status === 'ineligible') {
      process.stderr.write(`note: your own wallet does not pass it: ${explainGateResult(result)}\n`)
    }
  } finally {
    provider.destroy()
  }
}

export function send(flags: ClientFlags, text: string): Promise<void> {
  return roomWrite(flags, (room) => room.send(text))
}

export async function listen(flags: ClientFlags & { json?: boolean }): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const joined = await joinFromFlags(flags, factory, { catchUp: 'later' })
  const { client, room, close } = joined
  process.stderr.write(
    `listening on room ${room.manifest.manifest.name} (${room.id}) as ${client.address} (peer ${client.peerId.toString()})${flags.dataDir === undefined ? '' : ` in ${flags.dataDir}`}\n`,
  )
  const stop = new AbortController()
  void untilSignal().then(() => stop.abort())
  reportRelayChanges(client.relays, (line) => process.stderr.write(line))
  room.addEventListener('message:undecryptable', ({ detail }) =>
    printLine(formatUndecryptable(detail, flags.json === true)),
  )
  room.addEventListener('history:gap', ({ detail }) => printLine(formatGap(detail, flags.json === true)))
  room.addEventListener('message:updated', ({ detail }) =>
    printLine(formatUpdate(detail, flags.json === true, client.address)),
  )
  room.addEventListener('change:refused', ({ detail }) => printLine(formatRefused(detail, flags.json === true)))
  printTimerEvents(room, flags.json === true, printLine)
  printSignals(room, flags.json === true, printLine)
  printModeration(room, flags.json === true, printLine)
  const messages = room.messages({ signal: stop.signal })
  // What was said while away first (in order), then live; a failed catch-up does not stop listening. Where the log
  // leaves this wallet then (banned, muted…) is said once, and each change after it.
  const tellRestriction = reportOwnRestriction(room, (line) => process.stderr.write(line))
  void catchUpFromFlags(joined)
    .catch((err: unknown) =>
      process.stderr.write(`catch-up failed: ${err instanceof Error ? err.message : String(err)}\n`),
    )
    .finally(() => {
      tellRestriction()
      room.addEventListener('moderation:changed', tellRestriction)
    })
  for await (const message of messages) printMessage(message, flags.json === true, client.address)
  await close()
}

/**
 * `securechat history`: prints the room's history from the relays' stores (and this device), then the end of
 * each gap it found (a message recovered or given up on, bounded by {@link HISTORY_GAPS_WAIT_MS}), then exits.
 */
export async function history(flags: ClientFlags & { json?: boolean }): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const joined = await joinFromFlags(flags, factory, { catchUp: 'later' })
  const { client, room, close } = joined
  const json = flags.json === true
  try {
    room.addEventListener('message:received', ({ detail }) => printMessage(detail, json, client.address))
    room.addEventListener('message:undecryptable', ({ detail }) => printLine(formatUndecryptable(detail, json)))
    room.addEventListener('history:gap', ({ detail }) => printLine(formatGap(detail, json)))
    room.addEventListener('message:updated', ({ detail }) => printLine(formatUpdate(detail, json, client.address)))
    room.addEventListener('change:refused', ({ detail }) => printLine(formatRefused(detail, json)))
    printTimerEvents(room, json, printLine)
    await catchUpFromFlags(joined)
    await room.gapsSettled({ signal: AbortSignal.timeout(HISTORY_GAPS_WAIT_MS) }).catch(() => {
      process.stderr.write('some missing messages were still being fetched; run history again later\n')
    })
  } finally {
    await close()
  }
}

function printMessage(message: RoomMessage, json: boolean, self: string): void {
  printLine(json ? JSON.stringify(messageToJson(message, self)) : formatMessage(message, self))
}

function printLine(line: string | undefined): void {
  if (line !== undefined) process.stdout.write(`${line}\n`)
}

export async function chat(flags: ClientFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room, close } = await joinFromFlags(flags, factory)
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
  const print = (line: string): void => {
    process.stdout.write(`\r${line}\n`)
    rl.prompt(true)
  }
  print(`joined ${room.manifest.manifest.name} as ${client.address}; type a message and press Enter, Ctrl-D to leave`)
  // A message shown is read: its sender sees it (unless --no-receipts), and so do this wallet's other devices.
  room.addEventListener('message:received', (event) => {
    print(formatMessage(event.detail, client.address))
    room.markRead(event.detail.id)
  })
  printSignals(room, false, print)
  room.addEventListener('message:delivered', ({ detail }) => print(formatRoomDelivered(detail)))
  room.addEventListener('message:undecryptable', ({ detail }) => print(formatUndecryptable(detail, false)))
  room.addEventListener('history:gap', ({ detail }) => {
    const line = formatGap(detail, false)
    if (line !== undefined) print(line)
  })
  room.addEventListener('message:updated', ({ detail }) => print(formatUpdate(detail, false, client.address)))
  room.addEventListener('change:refused', ({ detail }) => print(formatRefused(detail, false)))
  printTimerEvents(room, false, print)
  printModeration(room, false, print)
  room.addEventListener('member:joined', (event) => print(`* ${event.detail.address} joined`))
  room.addEventListener('member:left', (event) => print(`* ${event.detail.address} left`))
  // Typing, while the line being written is not empty (a terminal reports each key; piped input has none).
  process.stdin.on('keypress', () => setImmediate(() => room.typing(rl.line.trim() !== '')))
  rl.on('line', (line) => {
    room.typing(false)
    const text = line.trim()
    if (text === '') return rl.prompt()
    room.send(text).then(
      () => rl.prompt(),
      (err: unknown) => print(`! not sent: ${err instanceof Error ? err.message : String(err)}`),
    )
  })
  await Promise.race([new Promise((resolve) => rl.once('close', resolve)), untilSignal()])
  rl.close()
  await close()
}

/** `securechat room list --data-dir <dir>`: the rooms this device joined, one JSON object per line. */
export async function roomList(flags: { dataDir: string; keyFile?: string }): Promise<void> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const signer = walletSigner({ type: 'eoa', signer: wallet })
  const vault = await openDataDirVault({ dataDir: flags.dataDir, signer, env: process.env })
  try {
    for (const room of await loadSavedRooms(vault)) {
      const line = {
        roomId: room.roomId,
        name: room.name,
        joinedAt: isoTime(room.joinedAtMs),
        invite: encodeInvite({ manifest: room.manifest, relays: room.relays }),
      }
      process.stdout.write(`${JSON.stringify(line)}\n`)
    }
  } finally {
    await vault.close()
  }
}
