/**
 * The relay's file pins (issue 16): a member asks, over `/securechat/files/pin/1.0.0`, that the relay keep a file
 * shared in a room or DM; the relay fetches its blocks over bitswap (from the asker and anyone connected), within
 * bounds, pins them for the retention, and serves them to anyone connected until then — so a file stays available
 * after its sender goes offline. The relay holds ciphertext only: the file's key stays in the encrypted message.
 *
 * Who may ask: for a room topic, the relay's own client in that room (its presence passed the room's checks here,
 * token gate included); for a DM pair topic, a device whose certificate the relay verified. Everything is bounded:
 * the request frame, pins under way per peer and in all, the wait for blocks (a stall timer), the file's size, its
 * topic's and the relay's quotas, the disk's free space, and the bytes actually fetched against the claim.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { ROOM_TOPIC_PREFIX } from '@securechat/sdk/constants'
import { parseDmTopic } from '@securechat/sdk/dm'
import {
  decodeFilePinRequest,
  encodeFilePinFrame,
  FILE_PIN_PROTOCOL,
  FILE_PIN_REFUSAL_REASONS,
  FileIntegrityError,
  type FilePinFrame,
  type FilePinRefusalReason,
  type FilePinRequest,
  fetchFileBlocks,
  fileDagBudget,
  fileDagWalker,
  MAX_FILE_PIN_REQUEST_BYTES,
  parseFileCid,
  pinLocalDag,
} from '@securechat/sdk/files'
import type { Logger } from '@securechat/sdk/logger'
import { STORE_RETENTION_MS } from '../store/constants.ts'
import type { RelayComponents, RelayService } from './create-relay.ts'
import {
  FILE_DISK_HEADROOM_BYTES,
  FILE_MAX_BYTES,
  FILE_MEMORY_TOTAL_QUOTA_BYTES,
  FILE_PIN_MEMBER_POLL_MS,
  FILE_PIN_MEMBER_WAIT_MS,
  FILE_PIN_PROGRESS_INTERVAL_MS,
  FILE_PIN_REQUEST_READ_TIMEOUT_MS,
  FILE_PIN_SWEEP_INTERVAL_MS,
  FILE_PINS_AT_ONCE,
  FILE_PINS_AT_ONCE_PER_PEER,
  FILE_ROOM_QUOTA_BYTES,
  FILE_TOTAL_QUOTA_BYTES,
  FILES_DIR,
} from './file-pin-constants.ts'
import { FilePinLedger, type FilePinRecord } from './file-pin-ledger.ts'
import { filePinMetrics } from './file-pin-metrics.ts'
import { type FilePinStorage, openFilePinStorage } from './file-pin-storage.ts'
import { becomesMember } from './member-wait.ts'
import type { Metric } from './metrics.ts'

export interface FilePinsInit {
  /** How long a file is kept after it was pinned: `--file-retention-ms`; default the store's, `STORE_RETENTION_MS`. */
  retentionMs?: number
  /** `--file-max-bytes`; default `FILE_MAX_BYTES`. */
  maxFileBytes?: number
  /** `--file-room-quota`; default `FILE_ROOM_QUOTA_BYTES`. */
  roomQuotaBytes?: number
  /**
   * `--file-total-quota`; 0 keeps no files (every request is refused `relay-full`). Default `FILE_TOTAL_QUOTA_BYTES`
   * with a data dir, `FILE_MEMORY_TOTAL_QUOTA_BYTES` without.
   */
  totalQuotaBytes?: number
  /** How often expired pins are removed; default `FILE_PIN_SWEEP_INTERVAL_MS`. */
  sweepIntervalMs?: number
  /** How long a pin waits for its next block before giving up (`unavailable`); the sdk's stall timeout by default. */
  fetchTimeoutMs?: number
}

/** Outcomes of pin requests, as `/metrics` counts them. */
export type FilePinOutcome = 'ok' | FilePinRefusalReason

export interface FilePinsStats {
  files: number
  bytes: number
  reservedBytes: number
  quotaBytes: number
  pinsUnderWay: number
  requests: Record<FilePinOutcome, number>
  fetchedBytes: number
  expired: number
}

export interface FilePinsService extends RelayService {
  start(): Promise<void>
  stop(): Promise<void>
  stats(): FilePinsStats
  metrics(): Metric[]
  /** Removes the pins past the retention now and collects their blocks (the timer does it every sweep interval). */
  sweep(): Promise<void>
}

const OUTCOMES: readonly FilePinOutcome[] = ['ok', ...FILE_PIN_REFUSAL_REASONS]

/** What the asker is told to do next, by reason; the message says what happened. */
const HINTS: Record<FilePinRefusalReason, string> = {
  'not-a-member':
    'Ask a relay you are connected to as a member of the conversation (your presence must reach it first).',
  'too-large': 'The file stays with its sender only; share a smaller file, or ask a relay that keeps larger ones.',
  'room-quota': "Wait until older files of the conversation expire, or ask another of the conversation's relays.",
  'relay-full': "Ask another of the conversation's relays; the file stays with its sender meanwhile.",
  unavailable: 'Keep the sender online and connected to the relay while it fetches, then ask again.',
  malformed: "Share the file again: the request or the file's blocks were not a file of the size claimed.",
  busy: 'Ask again in a moment, or ask another relay.',
}

type Answer = { type: 'ok' } | { type: 'refused'; reason: FilePinRefusalReason; message: string }

/** The relay's file pins, as a relay service (`createRelay({ services: { files: filePins(init) } })`). */
export function filePins(init: FilePinsInit = {}): (components: RelayComponents) => FilePinsService {
  return (components) => new FilePins(init, components)
}

class FilePins implements FilePinsService {
  readonly #components: RelayComponents
  readonly #log: Logger
  readonly #retentionMs: number
  readonly #sweepIntervalMs: number
  readonly #fetchTimeoutMs: number | undefined
  readonly #ledger: FilePinLedger
  #storage: FilePinStorage | undefined
  #sweepTimer: ReturnType<typeof setInterval> | undefined
  /** Aborts the fetches under way when the relay stops. */
  #stopping = new AbortController()
  /** Pins under way, by CID: a second request for the same file waits for the first. */
  readonly #underWay = new Map<string, Promise<Answer>>()
  readonly #perPeer = new Map<string, number>()
  /** Blocks were left unpinned (an expired pin, a failed fetch): collect them once no pin is under way. */
  #garbage = false
  #collecting: Promise<void> | undefined
  #sweeping: Promise<void> | undefined
  readonly #requests = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<FilePinOutcome, number>
  #fetchedBytes = 0
  #expired = 0

  constructor(init: FilePinsInit, components: RelayComponents) {
    this.#components = components
    this.#log = components.logger('securechat:node:files')
    this.#retentionMs = init.retentionMs ?? STORE_RETENTION_MS
    this.#sweepIntervalMs = init.sweepIntervalMs ?? FILE_PIN_SWEEP_INTERVAL_MS
    this.#fetchTimeoutMs = init.fetchTimeoutMs
    this.#ledger = new FilePinLedger({
      maxFileBytes: init.maxFileBytes ?? FILE_MAX_BYTES,
      roomQuotaBytes: init.roomQuotaBytes ?? FILE_ROOM_QUOTA_BYTES,
      totalQuotaBytes:
        init.totalQuotaBytes ?? (components.hasDataDir ? FILE_TOTAL_QUOTA_BYTES : FILE_MEMORY_TOTAL_QUOTA_BYTES),
    })
  }

  async start(): Promise<void> {
    const { node } = this.#components
    this.#stopping = new AbortController()
    // Pinning off: no store, no blocks; askers still get an answer that says so.
    if (this.#ledger.quotas.totalQuotaBytes > 0) {
      const dir = this.#components.hasDataDir ? `${this.#components.dataDir('file pins')}/${FILES_DIR}` : undefined
      const storage = await openFilePinStorage({ libp2p: node.libp2p, dir })
      this.#storage = storage
      await this.#load(storage)
      this.#sweepTimer = setInterval(() => void this.sweep(), this.#sweepIntervalMs)
      this.#sweepTimer.unref()
    }
    await node.libp2p.handle(FILE_PIN_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      runOnLimitedConnection: true,
    })
    await this.sweep()
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweepTimer)
    this.#sweepTimer = undefined
    await this.#components.node.libp2p.unhandle(FILE_PIN_PROTOCOL).catch(() => undefined)
    this.#stopping.abort(new DOMException('the relay is stopping', 'AbortError'))
    await Promise.allSettled([...this.#underWay.values(), this.#sweeping, this.#collecting])
    const storage = this.#storage
    this.#storage = undefined
    await storage?.close()
  }

  stats(): FilePinsStats {
    return {
      ...this.#ledger.stats(),
      quotaBytes: this.#ledger.quotas.totalQuotaBytes,
      pinsUnderWay: this.#underWay.size,
      requests: { ...this.#requests },
      fetchedBytes: this.#fetchedBytes,
      expired: this.#expired,
    }
  }

  metrics(): Metric[] {
    return filePinMetrics(this.stats())
  }

  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => {
      this.#sweeping = undefined
    })
    return this.#sweeping
  }

  /** The pins the relay holds, from their records: those of another shape (none we wrote) are left alone. */
  async #load(storage: FilePinStorage): Promise<void> {
    for await (const pin of storage.helia.pins.ls()) {
      const { topic, bytes, atMs } = pin.metadata
      if (typeof topic !== 'string' || typeof bytes !== 'number' || typeof atMs !== 'number') continue
      this.#ledger.add(pin.cid.toString(), { topic, bytes, atMs })
    }
    const { files, bytes } = this.#ledger.stats()
    if (files > 0) this.#log.info('file pins loaded', { event: 'files:loaded', files, bytes })
  }

  async #sweep(): Promise<void> {
    const storage = this.#storage
    if (storage === undefined) return
    for (const cid of this.#ledger.pinnedBefore(Date.now() - this.#retentionMs)) {
      try {
        // The walk reads the DAG's nodes, not its leaves (`fileDagWalker`): unpinning a file does not read it back.
        for await (const _ of storage.helia.pins.rm(parseFileCid(cid), { walker: fileDagWalker })) {
          // drain: unpinning walks the DAG
        }
        const record = this.#ledger.remove(cid)
        this.#expired += 1
        this.#garbage = true
        this.#log.debug('file expired', { event: 'files:expired', cid, topic: record?.topic, bytes: record?.bytes })
      } catch (err) {
        this.#log.warn('an expired file could not be unpinned', {
          cid,
          error: String(err),
          hint: `check the disk under ${storage.dir ?? 'memory'}; the next sweep tries again`,
        })
      }
    }
    await this.#collectGarbage()
  }

  /** Helia's garbage collection, once no pin is under way (it would take the blocks a fetch has not pinned yet). */
  #collectGarbage(): Promise<void> {
    const storage = this.#storage
    if (!this.#garbage || this.#underWay.size > 0 || storage === undefined) return this.#collecting ?? Promise.resolve()
    this.#garbage = false
    this.#collecting ??= storage.helia
      .gc({ signal: this.#stopping.signal })
      .catch((err: unknown) => {
        this.#garbage = true
        if (!this.#stopping.signal.aborted) this.#log.warn('file garbage collection failed', { error: String(err) })
      })
      .finally(() => {
        this.#collecting = undefined
      })
    return this.#collecting
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_FILE_PIN_REQUEST_BYTES })
    const signal = AbortSignal.timeout(FILE_PIN_REQUEST_READ_TIMEOUT_MS)
    try {
      let frame: Uint8Array | undefined
      try {
        frame = (await lp.read({ signal })).subarray()
      } catch (err) {
        this.#log.debug('unreadable file pin request', { peer, error: String(err) })
      }
      // Progress goes out while nothing else is being written: a slow reader skips frames, never holds the fetch.
      let writing: Promise<void> | undefined
      const progress = (pinned: number): void => {
        if (writing !== undefined) return
        writing = lp
          .write(encodeFilePinFrame({ type: 'progress', pinned }), { signal: this.#stopping.signal })
          .catch(() => undefined)
          .finally(() => {
            writing = undefined
          })
      }
      const answer =
        frame === undefined
          ? this.#refuse(
              peer,
              undefined,
              'malformed',
              `request frame unreadable or over ${MAX_FILE_PIN_REQUEST_BYTES} bytes`,
            )
          : await this.#answer(peer, frame, progress)
      this.#requests[answer.type === 'ok' ? 'ok' : answer.reason] += 1
      await writing
      const last: FilePinFrame = answer.type === 'ok' ? answer : { ...answer, hint: HINTS[answer.reason] }
      const done = AbortSignal.timeout(FILE_PIN_REQUEST_READ_TIMEOUT_MS)
      await lp.write(encodeFilePinFrame(last), { signal: done })
      await stream.close({ signal: done })
    } catch (err) {
      // The asker left, or wrote garbage below the frame layer: nothing to answer. The pin (if any) went on.
      this.#log.debug('file pin stream broke', { peer, error: String(err) })
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  async #answer(peer: string, frame: Uint8Array, progress: (pinned: number) => void): Promise<Answer> {
    const decoded = decodeFilePinRequest(frame)
    if (!decoded.ok) return this.#refuse(peer, undefined, 'malformed', `malformed pin request: ${decoded.reason}`)
    const request = decoded.value
    if (!(await this.#becomesMember(peer, request.topic))) {
      return this.#refuse(peer, request, 'not-a-member', 'the asker is not a member of this conversation on this relay')
    }
    if (this.#storage === undefined) {
      return this.#refuse(peer, request, 'relay-full', 'this relay keeps no files (--file-total-quota 0)')
    }
    if (this.#ledger.has(request.cid)) return { type: 'ok' }
    const under = this.#underWay.get(request.cid)
    if (under !== undefined) return await under
    const peerPins = this.#perPeer.get(peer) ?? 0
    if (peerPins >= FILE_PINS_AT_ONCE_PER_PEER || this.#underWay.size >= FILE_PINS_AT_ONCE) {
      return this.#refuse(peer, request, 'busy', 'too many files are being fetched at once')
    }
    const admission = this.#ledger.admit(request.cid, request.topic, request.bytes)
    if (!admission.ok) return this.#refuse(peer, request, admission.reason, admission.message)
    this.#perPeer.set(peer, peerPins + 1)
    const pinned = this.#pin(peer, request, progress)
    this.#underWay.set(request.cid, pinned)
    try {
      return await pinned
    } finally {
      this.#underWay.delete(request.cid)
      const left = (this.#perPeer.get(peer) ?? 1) - 1
      if (left > 0) this.#perPeer.set(peer, left)
      else this.#perPeer.delete(peer)
      void this.#collectGarbage()
    }
  }

  /** Fetches and pins an admitted request; its reservation ends either way. Never throws. */
  async #pin(peer: string, request: FilePinRequest, progress: (pinned: number) => void): Promise<Answer> {
    const storage = this.#storage!
    const { cid, topic } = request
    let fetched = 0
    try {
      const free = await storage.freeBytes()
      if (free !== undefined && free - fileDagBudget(request.bytes) < FILE_DISK_HEADROOM_BYTES) {
        this.#log.warn('file pins refused: the disk is nearly full', {
          event: 'files:disk-full',
          freeBytes: free,
          hint: `free space under ${storage.dir} or lower --file-total-quota`,
        })
        return this.#refuse(peer, request, 'relay-full', 'the relay is short of disk space')
      }
      let sent = 0
      const blocks = await fetchFileBlocks(storage.helia, parseFileCid(cid), {
        ciphertextBytes: request.bytes,
        // The member who asked holds the file: each block is asked of it first, not of every client connected.
        holders: [peerIdFromString(peer)],
        signal: this.#stopping.signal,
        ...(this.#fetchTimeoutMs === undefined ? {} : { timeoutMs: this.#fetchTimeoutMs }),
        onBlock: (at) => {
          this.#fetchedBytes += at.fetchedBytes - fetched
          fetched = at.fetchedBytes
          const now = Date.now()
          if (now - sent >= FILE_PIN_PROGRESS_INTERVAL_MS) {
            sent = now
            progress(Math.min(at.bytes, request.bytes))
          }
        },
      })
      const record: FilePinRecord = { topic, bytes: blocks.bytes, atMs: Date.now() }
      await pinLocalDag(storage.helia, parseFileCid(cid), { metadata: { ...record }, signal: this.#stopping.signal })
      this.#ledger.commit(cid, record)
      this.#log.info('file pinned', { event: 'files:pinned', peer, topic, cid, bytes: blocks.bytes })
      return { type: 'ok' }
    } catch (err) {
      if (fetched > 0) this.#garbage = true
      if (err instanceof FileIntegrityError) return this.#refuse(peer, request, 'malformed', err.message)
      this.#log.debug('file not pinned', { peer, topic, cid, error: String(err) })
      return { type: 'refused', reason: 'unavailable', message: "the file's blocks did not arrive" }
    } finally {
      this.#ledger.release(cid)
    }
  }

  /**
   * Whether `peer` is a member of `topic` here, waiting up to `FILE_PIN_MEMBER_WAIT_MS` while it is still connected
   * for its presence to be checked when the relay serves that conversation. Bounded in number by libp2p's inbound
   * streams per connection.
   */
  async #becomesMember(peer: string, topic: string): Promise<boolean> {
    return becomesMember({
      node: this.#components.node,
      peer,
      isMember: () => this.#isMember(peer, topic),
      mayBecomeMember: this.#mayBecomeMember(topic),
      waitMs: FILE_PIN_MEMBER_WAIT_MS,
      pollMs: FILE_PIN_MEMBER_POLL_MS,
      signal: this.#stopping.signal,
    })
  }

  /** A room this relay serves, or a DM pair's topic (any certified device may ask): a presence may still come. */
  #mayBecomeMember(topic: string): boolean {
    if (topic.startsWith(ROOM_TOPIC_PREFIX)) return this.#components.node.servesRoom(topic)
    return parseDmTopic(topic)?.kind === 'pair'
  }

  #isMember(peer: string, topic: string): boolean {
    const { node } = this.#components
    if (topic.startsWith(ROOM_TOPIC_PREFIX)) return node.isRoomClient(topic, peer)
    // A pair's topic names no device the relay can check: a device it verified may ask, within the quotas.
    if (parseDmTopic(topic)?.kind === 'pair') return node.isCertified(peer)
    return false
  }

  /** A refusal, logged once per peer and interval with the relay's other refusals (`refusals.ts`). */
  #refuse(
    peer: string,
    request: FilePinRequest | undefined,
    reason: Exclude<FilePinRefusalReason, 'unavailable'>,
    message: string,
  ): Answer {
    this.#components.node.limits.refusals.refuse(`file-pin-${reason}`, peer, {
      ...(request === undefined ? {} : { topic: request.topic, cid: request.cid, bytes: request.bytes }),
      detail: message,
    })
    return { type: 'refused', reason, message }
  }
}
