/**
 * The remote devices this device knows and its Double Ratchet sessions with them, in memory and in the vault.
 *
 * Every session, the device it belongs to, and the ids of accepted initial messages (a replay is refused) are
 * saved before a ciphertext is published, so a restart never reuses a message key, and loaded on start. What a
 * session read is saved a little later ({@link DmSessionStore.persistSoon}), and never before the conversations'
 * message states ({@link DmSessionStoreComponents.beforePersist}): a session on disk past a message the states
 * lack would refuse that message as a duplicate when a catch-up fetches it again after a restart — lost. A session
 * on disk behind the states only reads a message again, and the states drop it by id. Operations on one device's
 * sessions run one at a time ({@link DmSessionStore.withDevice}).
 */
import { TypedEventEmitter } from 'main-event'
import { z } from 'zod'
import { MESSAGE_STATES_SAVE_DELAY_MS } from '../constants.ts'
import { type DoubleRatchetSession, deserializeSession } from '../crypto/double-ratchet.ts'
import type { VerifiedKeyBundle } from '../crypto/key-bundle.ts'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'
import { sha256HexSchema } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import type { Address, DmDevice, VerifiedCertificate } from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import type { Vault } from '../vault/vault.ts'
import { DM_MAX_DEVICES_PER_WALLET, DM_MAX_SEEN_INITS, DM_MAX_SESSIONS_PER_DEVICE } from './constants.ts'
import { verifyDeviceBundle } from './device-bundle.ts'
import { checksumAddress, pairTopic } from './topics.ts'

/** Vault entries: one per remote device, and the ids of accepted initial messages. */
const DEVICE_ENTRY_PREFIX = 'dm/device/'
const SEEN_ENTRY = 'dm/seen-inits'

export interface SessionEntry {
  session: DoubleRatchetSession
  lastUsedMs: number
  /** A message from the other side arrived on it (responder sessions: from the start). */
  confirmed: boolean
  /** Until confirmed, an initiator repeats this PQXDH header before every message. */
  initHeader: Uint8Array | undefined
}

export interface RemoteDevice {
  readonly peerId: string
  readonly address: Address
  /** What its certificate commits to (hex): every record from it must carry a certificate that does. */
  readonly bundleHash: string
  readonly identityKey: Uint8Array
  readonly topic: string
  bundle: VerifiedKeyBundle | undefined
  bundleText: string | undefined
  /** When its bundle was last heard live (0: only from the vault). */
  bundleSeenMs: number
  lastSeenMs: number
  readonly sessions: Map<string, SessionEntry>
  /** Operations on one device's sessions run one at a time. */
  tail: Promise<unknown>
}

const b64 = z.string().regex(/^[A-Za-z0-9_-]*$/)
const storedDeviceSchema = z
  .object({
    v: z.literal(1),
    peerId: z.string().min(1).max(128),
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    bundleHash: sha256HexSchema,
    identityKey: b64,
    bundle: b64.optional(),
    lastSeenMs: z.number().int().nonnegative(),
    sessions: z
      .array(
        z
          .object({
            sid: z.string().regex(/^[0-9a-f]{32}$/),
            state: b64,
            lastUsedMs: z.number().int().nonnegative(),
            confirmed: z.boolean(),
            initHeader: b64.optional(),
          })
          .strict(),
      )
      .max(DM_MAX_SESSIONS_PER_DEVICE),
  })
  .strict()
const seenSchema = z
  .object({ v: z.literal(1), sids: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(DM_MAX_SEEN_INITS) })
  .strict()

export interface DmSessionStoreComponents {
  selfPeerId: string
  keyring: DeviceKeyring
  /** Where sessions persist; without one they live as long as the process. */
  vault?: Vault
  /** The pair topics of devices with a session are joined; a device that changed its keys leaves its topic. */
  topics: { subscribe(topic: string): void; unsubscribe(topic: string): void }
  log: Logger
  /** Makes durable what the sessions have read (the conversations' message states); runs before a device is saved. */
  beforePersist?: () => Promise<void>
}

export interface DmSessionStoreEvents {
  /** A device's bundle was heard live (an announcement or an initial message). */
  'device:heard': CustomEvent<RemoteDevice>
}

export class DmSessionStore extends TypedEventEmitter<DmSessionStoreEvents> {
  readonly #c: DmSessionStoreComponents
  readonly #devices = new Map<string, RemoteDevice>()
  readonly #byTopic = new Map<string, string>()
  readonly #seen = new Set<string>()
  /** Devices whose sessions read something since they were saved (saved by {@link persistSoon}'s timer). */
  readonly #unsaved = new Set<RemoteDevice>()
  #persistTimer: ReturnType<typeof setTimeout> | undefined

  constructor(components: DmSessionStoreComponents) {
    super()
    this.#c = components
  }

  get(peerId: string): RemoteDevice | undefined {
    return this.#devices.get(peerId)
  }

  /** The device whose pair topic `topic` is. */
  byTopic(topic: string): RemoteDevice | undefined {
    const peerId = this.#byTopic.get(topic)
    return peerId === undefined ? undefined : this.#devices.get(peerId)
  }

  /** The wallet's devices other than this one, most recently seen first, at most {@link DM_MAX_DEVICES_PER_WALLET}. */
  devicesOf(address: Address): RemoteDevice[] {
    return [...this.#devices.values()]
      .filter((d) => d.address === address && d.peerId !== this.#c.selfPeerId)
      .sort((a, b) => b.lastSeenMs - a.lastSeenMs)
      .slice(0, DM_MAX_DEVICES_PER_WALLET)
  }

  /** Pair topics of the devices this one has a session with. */
  sessionTopics(): string[] {
    return [...this.#devices.values()].filter((d) => d.sessions.size > 0).map((d) => d.topic)
  }

  /** Every device's queue, to wait for at stop. */
  queues(): Promise<unknown>[] {
    return [...this.#devices.values()].map((d) => d.tail)
  }

  /** The known device `peerId`, or a new one; a device whose keys changed starts over. */
  async deviceFor(peerId: string, certificate: VerifiedCertificate, bundle: VerifiedKeyBundle): Promise<RemoteDevice> {
    const known = this.#devices.get(peerId)
    if (known !== undefined && known.bundleHash === certificate.bundleHash && known.address === certificate.address) {
      return known
    }
    if (known !== undefined) {
      this.#c.log.info('a device changed its wallet or keys; its old sessions are dropped', { peer: peerId })
      this.#byTopic.delete(known.topic)
      this.#c.topics.unsubscribe(known.topic)
    }
    const topic = await pairTopic({
      selfIdentityKey: this.#c.keyring.keys.identityKey,
      selfPeerId: this.#c.selfPeerId,
      remoteIdentityKey: bundle.identityKey,
      remotePeerId: peerId,
    })
    const device: RemoteDevice = {
      peerId,
      address: certificate.address,
      bundleHash: certificate.bundleHash!,
      identityKey: bundle.identityKey,
      topic,
      bundle,
      bundleText: undefined,
      bundleSeenMs: 0,
      lastSeenMs: Date.now(),
      sessions: new Map(),
      tail: Promise.resolve(),
    }
    this.#devices.set(peerId, device)
    this.#byTopic.set(topic, peerId)
    return device
  }

  /** The device's bundle was heard live, now (with the bundle, when it is new). */
  heard(device: RemoteDevice, bundle?: { bundle: VerifiedKeyBundle; text: string }): void {
    if (bundle !== undefined) {
      device.bundle = bundle.bundle
      device.bundleText = bundle.text
    }
    device.lastSeenMs = device.bundleSeenMs = Date.now()
    this.safeDispatchEvent('device:heard', { detail: device })
  }

  /** Adds a session (joining the pair topic); the least recently used beyond {@link DM_MAX_SESSIONS_PER_DEVICE} go. */
  addSession(device: RemoteDevice, sid: string, entry: SessionEntry): void {
    device.sessions.set(sid, entry)
    this.#c.topics.subscribe(device.topic)
    while (device.sessions.size > DM_MAX_SESSIONS_PER_DEVICE) {
      const oldest = [...device.sessions]
        .filter(([id]) => id !== sid)
        .sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)[0]
      if (oldest === undefined) break
      device.sessions.delete(oldest[0])
    }
  }

  /** Runs `operation` after every earlier one on the device's sessions. */
  withDevice<T>(device: RemoteDevice, operation: () => Promise<T>): Promise<T> {
    const result = device.tail.then(operation)
    device.tail = result.catch(() => undefined)
    return result
  }

  /** True if an initial message with this session id was accepted before. */
  seen(sid: string): boolean {
    return this.#seen.has(sid)
  }

  remember(sid: string): void {
    this.#seen.add(sid)
    while (this.#seen.size > DM_MAX_SEEN_INITS) this.#seen.delete(this.#seen.values().next().value!)
  }

  /** Saves `device` now; call it inside {@link withDevice}, so that no session of it changes while it is written. */
  async persistDevice(device: RemoteDevice): Promise<void> {
    this.#unsaved.delete(device)
    const vault = this.#c.vault
    if (vault === undefined) return
    await this.#c.beforePersist?.()
    await vault.putJson(`${DEVICE_ENTRY_PREFIX}${device.peerId}`, {
      v: 1,
      peerId: device.peerId,
      address: device.address,
      bundleHash: device.bundleHash,
      identityKey: base64urlEncode(device.identityKey),
      ...(device.bundleText === undefined ? {} : { bundle: device.bundleText }),
      lastSeenMs: device.lastSeenMs,
      sessions: [...device.sessions].map(([sid, entry]) => ({
        sid,
        state: base64urlEncode(entry.session.serialize()),
        lastUsedMs: entry.lastUsedMs,
        confirmed: entry.confirmed,
        ...(entry.initHeader === undefined ? {} : { initHeader: base64urlEncode(entry.initHeader) }),
      })),
    } satisfies z.input<typeof storedDeviceSchema>)
  }

  /**
   * Saves `device` within {@link MESSAGE_STATES_SAVE_DELAY_MS}: for what a session read, not sent (a send saves at
   * once). One write per device per burst, after the message states, instead of both for every message.
   */
  persistSoon(device: RemoteDevice): void {
    if (this.#c.vault === undefined) return
    this.#unsaved.add(device)
    this.#persistTimer ??= setTimeout(() => void this.persistUnsaved(), MESSAGE_STATES_SAVE_DELAY_MS)
  }

  /** Saves every device {@link persistSoon} is waiting to save; resolves once they are durable. */
  async persistUnsaved(): Promise<void> {
    clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    const devices = [...this.#unsaved]
    await Promise.all(
      devices.map((device) =>
        this.withDevice(device, async () => {
          // Saved since, or replaced by a device with new keys (whose entry this one must not overwrite).
          if (!this.#unsaved.has(device) || this.#devices.get(device.peerId) !== device) return
          await this.persistDevice(device)
        }).catch((err: unknown) =>
          this.#c.log.warn('a DM session could not be saved', { peer: device.peerId, error: String(err) }),
        ),
      ),
    )
  }

  async persistSeen(): Promise<void> {
    await this.#c.vault?.putJson(SEEN_ENTRY, { v: 1, sids: [...this.#seen] })
  }

  /** Loads every stored device and session; an entry that cannot be read is reported and kept. */
  async load(): Promise<void> {
    const { vault, log } = this.#c
    if (vault === undefined) return
    const seen = await vault.getJson(SEEN_ENTRY, seenSchema).catch((err: unknown) => {
      log.warn('the list of accepted DM sessions could not be read', { error: String(err) })
      return undefined
    })
    for (const sid of seen?.sids ?? []) this.remember(sid)
    for (const name of await vault.list(DEVICE_ENTRY_PREFIX)) {
      try {
        const stored = await vault.getJson(name, storedDeviceSchema)
        if (stored === undefined) continue
        const identityKey = base64urlDecode(stored.identityKey)
        const topic = await pairTopic({
          selfIdentityKey: this.#c.keyring.keys.identityKey,
          selfPeerId: this.#c.selfPeerId,
          remoteIdentityKey: identityKey,
          remotePeerId: stored.peerId,
        })
        const bundle =
          stored.bundle === undefined
            ? undefined
            : await verifyDeviceBundle({
                peerId: stored.peerId,
                text: stored.bundle,
                certificate: { bundleHash: stored.bundleHash },
                log,
              })
        const device: RemoteDevice = {
          peerId: stored.peerId,
          address: checksumAddress(stored.address),
          bundleHash: stored.bundleHash,
          identityKey,
          topic,
          bundle,
          bundleText: bundle === undefined ? undefined : stored.bundle,
          bundleSeenMs: 0,
          lastSeenMs: stored.lastSeenMs,
          sessions: new Map(
            stored.sessions.map((s) => [
              s.sid,
              {
                session: deserializeSession(base64urlDecode(s.state)),
                lastUsedMs: s.lastUsedMs,
                confirmed: s.confirmed,
                initHeader: s.initHeader === undefined ? undefined : base64urlDecode(s.initHeader),
              },
            ]),
          ),
          tail: Promise.resolve(),
        }
        this.#devices.set(device.peerId, device)
        this.#byTopic.set(topic, device.peerId)
      } catch (err) {
        log.warn('a stored DM device could not be loaded; its entry is kept as it is', {
          entry: name,
          error: String(err),
        })
      }
    }
  }
}

/** What the public API says of a device. */
export function describeDevice(device: RemoteDevice): DmDevice {
  return {
    address: device.address,
    peerId: device.peerId,
    lastSeenMs: device.lastSeenMs,
    hasSession: device.sessions.size > 0,
    established: [...device.sessions.values()].some((e) => e.confirmed),
  }
}
