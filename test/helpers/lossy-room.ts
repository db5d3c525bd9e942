/**
 * One room under a lossy network (issue 12's loss test and the `lossy` bench suite): a real relay
 * process with its store, and in-process sdk clients, each reaching the relay only through its
 * own {@link LossyLink}. Several peers send continuously; some churn (stop, and come back with
 * their vault, so they catch up); half of them are cut off for a while and heal. The run ends
 * when every peer has every message that was sent (each peer's delivered set equals the sent
 * set), or when `timeoutMs` passes — then the result says who misses what.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { UnreachableError } from '@securechat/sdk/errors'
import { fetchHistory, MAX_HISTORY_FETCH_IDS } from '@securechat/sdk/history'
import { walletSigner } from '@securechat/sdk/identity'
import type { Logger, LoggerFactory } from '@securechat/sdk/logger'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend, openVault, VAULT_ARGON2ID_MIN, type Vault, type VaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../../node/src/constants.ts'
import { type RelayProcess, startRelayProcess, tempDir } from './cli.ts'
import { type LinkStats, LossyLink, seededRandom } from './lossy-link.ts'
import { until } from './room-inbox.ts'

/** A relay refuses more than five inbound connections a second from one host: start peers below that. */
const PEER_START_INTERVAL_MS = 250
/** Tries to start a peer's client this many times, {@link PEER_START_INTERVAL_MS} apart. */
const START_ATTEMPTS = 5
/** A delivery within this long of its send counts as live (gossip alone, before any repair could act). */
export const LIVE_WINDOW_MS = 5_000

export interface LossyRoomInit {
  peers: number
  /** How many of the peers send. */
  senders: number
  /** Fraction of the peers that stop and come back. */
  churn: number
  /** Chance a TCP segment is lost (see lossy-link.ts). */
  loss: number
  /** Mean time between random resets of one connection; 0: none. */
  resetMeanMs: number
  /** How long half of the peers stay cut off. */
  partitionMs: number
  /** Sending before the partition (churn happens here). */
  beforeMs: number
  /** Sending after the partition heals. */
  afterMs: number
  /** How long a churning peer stays away. */
  downMs: number
  /** Each sender sends one message this often. */
  sendIntervalMs: number
  /** The whole run, convergence included, gives up after this long. */
  timeoutMs: number
  seed: number
  log?: (line: string) => void
  /** Each peer's sdk log (debug and up) and what it sent, got and could not read, one JSON line each, in `peer-<n>.log` here. */
  logDir?: string
}

export interface LossyRoomResult {
  peers: number
  sent: number
  /** Deliveries within {@link LIVE_WINDOW_MS} of the send / (messages × peers other than the sender). */
  liveDelivery: number
  /** Deliveries at the end / (messages × peers): 1 when every peer has every message. */
  finalDelivery: number
  /** From the last send to every peer having every message; undefined when that never happened. */
  convergenceMs: number | undefined
  /** From the partition healing to every peer having every message. */
  convergenceFromHealMs: number | undefined
  /** Per peer that misses messages: how many it misses, and whose. */
  /** `notInStore`: of those, how many the relay's store lacks too (undefined: the store could not be asked). */
  missing: Array<{
    peer: number
    roles: string[]
    missing: number
    notInStore: number | undefined
    /** Of those, how many arrived but could not be decrypted, and why. */
    undecryptable: number
    unreadable: string[]
    fromPeers: number[]
    /** When the missing messages were sent. */
    byPhase: Partial<Record<Phase, number>>
  }>
  undecryptable: number
  sendErrors: number
  links: LinkStats
}

/** Before the partition (churn happens here), during it, after it healed. */
type Phase = 'before' | 'partition' | 'after'

interface Peer {
  index: number
  wallet: Wallet
  backend: VaultBackend
  link: LossyLink
  client: SecureChatClient | undefined
  vault: Vault | undefined
  room: Room | undefined
  /** Message ids this peer has (sent by it, or delivered to any of its runs), with when it got them. */
  delivered: Map<string, number>
  /** Messages reported undecryptable to any of its runs, with the reason. */
  undecryptable: Map<string, string>
  /** Sending is paused while the peer is away. */
  up: boolean
  /** Where its log goes ({@link LossyRoomInit.logDir}). */
  logger: LoggerFactory | undefined
}

/** Runs the scenario; everything it starts is stopped before it returns or throws. */
export async function runLossyRoom(init: LossyRoomInit): Promise<LossyRoomResult> {
  const log = init.log ?? (() => {})
  const random = seededRandom(init.seed)
  const cleanups: Array<() => Promise<unknown>> = []
  try {
    const relayDir = await tempDir('lossy-relay-')
    cleanups.push(() => rm(relayDir, { recursive: true, force: true }))
    // Seen here: over 20 s to start while test workers start beside it on two loaded cores.
    const relay = await startRelayProcess({ dataDir: relayDir })
    cleanups.push(() => stopProcess(relay))
    const relayAddress = relay.multiaddrs.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const relayPort = Number(/\/tcp\/(\d+)/.exec(relayAddress)![1])

    const peers: Peer[] = []
    for (let index = 0; index < init.peers; index++) {
      const link = new LossyLink({ host: '127.0.0.1', port: relayPort }, { random })
      await link.start()
      cleanups.push(() => link.stop())
      peers.push({
        index,
        wallet: new Wallet(Wallet.createRandom().privateKey),
        backend: memoryVaultBackend(),
        link,
        client: undefined,
        vault: undefined,
        room: undefined,
        delivered: new Map(),
        undecryptable: new Map(),
        up: false,
        logger: undefined,
      })
    }
    if (init.logDir !== undefined) {
      await mkdir(init.logDir, { recursive: true })
      for (const peer of peers) {
        const file = createWriteStream(`${init.logDir}/peer-${peer.index}.log`)
        cleanups.push(() => new Promise((resolve) => file.end(resolve)))
        peer.logger = fileLogger(file)
      }
    }
    cleanups.push(async () => {
      for (const peer of peers) await stopPeer(peer)
    })

    // Who does what: senders spread over both halves, churners over both halves too.
    const partitioned = peers.slice(Math.floor(init.peers / 2))
    const senders = spread(peers, init.senders)
    const churners = spread([...peers].reverse(), Math.round(init.peers * init.churn))

    const sentAt = new Map<string, { atMs: number; by: number; phase: Phase }>()
    let phase: Phase = 'before'
    let undecryptable = 0
    const progress = new EventTarget()
    const onDelivered = (peer: Peer, message: RoomMessage): void => {
      if (peer.delivered.has(message.id)) return
      peer.delivered.set(message.id, message.receivedAtMs)
      progress.dispatchEvent(new Event('delivered'))
    }

    const startPeer = async (peer: Peer, invite?: string): Promise<{ invite: string }> => {
      const vault = await openVault({
        backend: peer.backend,
        unlock: { type: 'passphrase', passphrase: `lossy peer ${peer.index}` },
        argon2id: VAULT_ARGON2ID_MIN,
      })
      const port = peer.link.port
      const client = createClient({
        domain: DEFAULT_CLI_DOMAIN,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'eoa', signer: peer.wallet }),
        bootstrap: [`/ip4/127.0.0.1/tcp/${port}/p2p/${relay.peerId}`],
        // Its own link is its only way out: not the relay's real address, not another's link.
        connectionGater: { denyDialMultiaddr: (ma: Multiaddr) => tcpPort(ma) !== port },
        vault,
        ...(peer.logger === undefined ? {} : { logger: peer.logger }),
      })
      peer.vault = vault
      peer.client = client
      // A relay refuses a burst of connections from one host (here every peer is 127.0.0.1): an
      // app whose relay refused it tries again, and so does this one.
      await retry(
        () => client.start(),
        START_ATTEMPTS,
        (err) => log(`lossy: peer ${peer.index} start: ${String(err)}`),
      )
      let room: Room
      let roomInvite: string
      if (invite === undefined) {
        const created = await client.createRoom({ name: 'lossy' })
        room = created.room
        roomInvite = created.invite
      } else {
        room = await client.joinRoom(invite, { catchUp: 'later' })
        roomInvite = invite
      }
      const trace = peer.logger?.('lossy')
      trace?.info('started', { peerId: client.peerId.toString() })
      room.addEventListener('message:received', (event) => {
        trace?.info('received', { id: event.detail.id, from: event.detail.senderPeerId })
        onDelivered(peer, event.detail)
      })
      room.addEventListener('message:undecryptable', (event) => {
        trace?.info('undecryptable', {
          id: event.detail.id,
          from: event.detail.senderPeerId,
          reason: event.detail.reason,
        })
        undecryptable++
        peer.undecryptable.set(event.detail.id, event.detail.reason)
      })
      room.addEventListener('member:joined', () => progress.dispatchEvent(new Event('presence')))
      room.addEventListener('member:left', () => progress.dispatchEvent(new Event('presence')))
      if (invite !== undefined) void client.catchUp(room).catch(() => {})
      peer.room = room
      peer.up = true
      return { invite: roomInvite }
    }

    const started = performance.now()
    const { invite } = await startPeer(peers[0]!)
    for (const peer of peers.slice(1)) {
      await delay(PEER_START_INTERVAL_MS)
      await startPeer(peer, invite)
    }
    // A sender's key reaches the members it knows: every sender must know everyone before its
    // first message, or a late-seen member could not read what came before (by design, not a loss).
    const knows = (): number[] => senders.map((peer) => peer.room!.members().length)
    await until(
      [[progress, 'presence']],
      () => knows().every((n) => n === init.peers),
      () => 'presence',
      init.timeoutMs,
    ).catch((err: unknown) => {
      throw new Error(`senders know ${knows().join(', ')} of ${init.peers} peers: ${String(err)}`)
    })
    log(`lossy: ${init.peers} peers in the room after ${Math.round(performance.now() - started)} ms`)

    // The room is set up over clean links; from the first message on, they lose and reset.
    for (const peer of peers) peer.link.impair({ loss: init.loss, resetMeanMs: init.resetMeanMs })

    // Senders send until told to stop; a sender that is away skips its turns.
    let sending = true
    let sendErrors = 0
    let lastSendMs = 0
    const senderLoops = senders.map(async (peer) => {
      let n = 0
      while (sending) {
        await delay(init.sendIntervalMs * (0.5 + random()))
        if (!sending || !peer.up) continue
        const room = peer.room!
        try {
          const { id, sentAtMs } = await room.send(`peer ${peer.index} message ${n++}`)
          peer.logger?.('lossy').info('sent', { id, phase })
          sentAt.set(id, { atMs: sentAtMs, by: peer.index, phase })
          peer.delivered.set(id, sentAtMs)
          lastSendMs = performance.now()
          progress.dispatchEvent(new Event('delivered'))
        } catch (err) {
          sendErrors++
          log(`lossy: peer ${peer.index} could not send: ${String(err)}`)
        }
      }
    })

    // Churn: each churner leaves once before the partition and comes back with its vault.
    const churn = churners.map(async (peer, i) => {
      await delay(((i + 1) * init.beforeMs) / (churners.length + 2))
      await stopPeer(peer)
      await delay(init.downMs)
      await startPeer(peer, invite)
    })
    await Promise.all([delay(init.beforeMs), ...churn])

    for (const peer of partitioned) peer.link.partition()
    phase = 'partition'
    log(`lossy: partitioned ${partitioned.length} peers for ${init.partitionMs} ms`)
    await delay(init.partitionMs)
    for (const peer of partitioned) peer.link.heal()
    phase = 'after'
    const healedMs = performance.now()
    log('lossy: healed')
    await delay(init.afterMs)
    sending = false
    await Promise.all(senderLoops)
    const sent = [...sentAt.keys()]
    log(`lossy: ${sent.length} messages sent; waiting for every peer to have every one`)

    // Counted once sending is over: a delivery may come before its send() resolved.
    let live = 0
    for (const peer of peers) {
      for (const id of sent) {
        const { atMs, by } = sentAt.get(id)!
        const receivedAtMs = peer.delivered.get(id)
        if (by !== peer.index && receivedAtMs !== undefined && receivedAtMs - atMs <= LIVE_WINDOW_MS) live++
      }
    }
    const liveDelivery = live / Math.max(1, sent.length * (init.peers - 1))
    const complete = (): boolean => peers.every((peer) => sent.every((id) => peer.delivered.has(id)))
    const leftMs = init.timeoutMs - (performance.now() - started)
    const converged = await until([[progress, 'delivered']], complete, () => 'delivery', leftMs).then(
      () => true,
      () => false,
    )
    const doneMs = performance.now()
    // What the relay's store lacks only its sender can bring back (re-publishing); the rest a
    // reader could have fetched.
    const stored = converged ? new Set<string>() : await storedIds(peers, relay.peerId, sent)
    const missing = peers
      .map((peer) => {
        const lacking = sent.filter((id) => !peer.delivered.has(id))
        const fromPeers = [...new Set(lacking.map((id) => sentAt.get(id)!.by))].sort((a, b) => a - b)
        const notInStore = stored === undefined ? undefined : lacking.filter((id) => !stored.has(id)).length
        const byPhase: Partial<Record<Phase, number>> = {}
        for (const id of lacking) byPhase[sentAt.get(id)!.phase] = (byPhase[sentAt.get(id)!.phase] ?? 0) + 1
        const roles = [
          ...(senders.includes(peer) ? ['sender'] : []),
          ...(churners.includes(peer) ? ['churned'] : []),
          ...(init.partitionMs > 0 && partitioned.includes(peer) ? ['partitioned'] : []),
        ]
        const unreadable = [...new Set(lacking.flatMap((id) => peer.undecryptable.get(id) ?? []))]
        const undecryptable = lacking.filter((id) => peer.undecryptable.has(id)).length
        return {
          peer: peer.index,
          roles,
          missing: lacking.length,
          notInStore,
          undecryptable,
          unreadable,
          fromPeers,
          byPhase,
        }
      })
      .filter((m) => m.missing > 0)
    const have = peers.reduce((sum, peer) => sum + sent.filter((id) => peer.delivered.has(id)).length, 0)
    const links = peers.reduce<LinkStats>(
      (sum, peer) => ({
        connections: sum.connections + peer.link.stats.connections,
        chunks: sum.chunks + peer.link.stats.chunks,
        retransmitted: sum.retransmitted + peer.link.stats.retransmitted,
        resets: sum.resets + peer.link.stats.resets,
      }),
      { connections: 0, chunks: 0, retransmitted: 0, resets: 0 },
    )
    return {
      peers: init.peers,
      sent: sent.length,
      liveDelivery,
      finalDelivery: have / Math.max(1, sent.length * init.peers),
      convergenceMs: converged ? Math.max(0, doneMs - lastSendMs) : undefined,
      convergenceFromHealMs: converged ? doneMs - healedMs : undefined,
      missing,
      undecryptable,
      sendErrors,
      links,
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
}

/** Which of `ids` the relay's store holds, asked through the first peer that can; undefined when none could. */
async function storedIds(peers: Peer[], relayPeerId: string, ids: string[]): Promise<Set<string> | undefined> {
  for (const { client, room } of peers) {
    if (client === undefined || room === undefined) continue
    try {
      const found = new Set<string>()
      for (let i = 0; i < ids.length; i += MAX_HISTORY_FETCH_IDS) {
        const { records } = await fetchHistory(
          client.libp2p,
          peerIdFromString(relayPeerId),
          { topic: room.topic, ids: ids.slice(i, i + MAX_HISTORY_FETCH_IDS) },
          { signal: AbortSignal.timeout(10_000) },
        )
        for (const { record } of records) found.add(record.id)
      }
      return found
    } catch {
      // This peer cannot reach the relay now; the next may.
    }
  }
  return undefined
}

/** Writes one JSON line per entry: time, namespace, level, message and fields. */
function fileLogger(file: WriteStream): LoggerFactory {
  return (namespace) => {
    const write =
      (level: string) =>
      (msg: string, fields?: Record<string, unknown>): void =>
        void file.write(`${JSON.stringify({ t: new Date().toISOString(), namespace, level, msg, ...fields })}\n`)
    const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
    return logger
  }
}

async function stopPeer(peer: Peer): Promise<void> {
  peer.up = false
  const { client, vault } = peer
  peer.client = undefined
  peer.vault = undefined
  peer.room = undefined
  await client?.stop()
  await vault?.close()
}

/** `count` of `items`, spread evenly (the first always among them). */
function spread<T>(items: T[], count: number): T[] {
  if (count <= 0) return []
  const step = items.length / count
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]!)
}

function tcpPort(ma: Multiaddr): number | undefined {
  const port = ma.getComponents().find((c) => c.name === 'tcp')?.value
  return port === undefined ? undefined : Number(port)
}

async function retry(attempt: () => Promise<void>, attempts: number, onError: (err: unknown) => void): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await attempt()
      return
    } catch (err) {
      if (!(err instanceof UnreachableError) || i >= attempts) throw err
      onError(err)
      await delay(PEER_START_INTERVAL_MS * i)
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function stopProcess(relay: RelayProcess): Promise<void> {
  relay.kill('SIGTERM')
  await relay.exited
}
