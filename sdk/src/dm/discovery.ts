/**
 * Finding a wallet's devices (docs/direct-messages.md). Each device subscribes to its wallet's inbox
 * (`topics.ts`) and announces itself there (certificate + key bundle) every `DM_ANNOUNCE_INTERVAL_MS`, when a
 * neighbour subscribes, and in answer to a `query`. A sender subscribes to the recipient's inbox only while it
 * discovers (`DM_DISCOVERY_TIMEOUT_MS`, at most every `DM_REDISCOVERY_MS`), asks, and collects the bundles that
 * answer; each bundle's PeerId signature is checked, and that the device's certificate commits to it. Meanwhile it
 * asks the relays' stores for the inbox's last announcements, so that a device which is offline now is found too
 * (its bundle is not fresh: no one-time prekey is used) and what is sent to it waits on the relays.
 */
import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { Logger } from '../logger.ts'
import type { AbortOptions, Address, DmDevice, SessionCertificate, VerifiedCertificate } from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import {
  DM_ANNOUNCE_INTERVAL_MS,
  DM_ANNOUNCE_MIN_GAP_MS,
  DM_DISCOVERY_QUIET_MS,
  DM_DISCOVERY_TIMEOUT_MS,
  DM_PREKEY_CHECK_INTERVAL_MS,
  DM_QUERY_RETRY_MS,
  DM_REDISCOVERY_MS,
  DM_WIRE_VERSION,
} from './constants.ts'
import { verifyDeviceBundle } from './device-bundle.ts'
import type { DmTopics } from './dm-topics.ts'
import type { AcceptedDmRecord } from './gatekeeper.ts'
import { type DmSessionStore, describeDevice, type RemoteDevice } from './session-store.ts'
import { inboxId, inboxTopic } from './topics.ts'

export interface DmDiscoveryComponents {
  pubsub: GossipSub
  topics: DmTopics
  store: DmSessionStore
  self: { address: Address; peerId: string; certificate: SessionCertificate }
  keyring: DeviceKeyring
  log: Logger
  /** A device announced itself with a bundle that passed the checks. */
  onDiscovered: (device: DmDevice) => void
  /** Work that stop waits for (prekey maintenance saves the keyring). */
  track: (work: Promise<unknown>) => void
  /** The device announcements the relays' stores hold on an inbox, each passed by the DM gatekeeper. */
  storedDevices?: (
    topic: string,
    options: AbortOptions,
  ) => Promise<Array<Extract<AcceptedDmRecord, { type: 'device' }>>>
}

export interface DmDiscoveryInit {
  /** Default {@link DM_ANNOUNCE_INTERVAL_MS}. */
  announceIntervalMs?: number
  /** Default {@link DM_DISCOVERY_TIMEOUT_MS}. */
  discoveryTimeoutMs?: number
}

export class DmDiscovery {
  readonly #c: DmDiscoveryComponents
  readonly #inbox: string
  readonly #announceIntervalMs: number
  readonly #discoveryTimeoutMs: number
  readonly #lastDiscovery = new Map<Address, number>()
  readonly #discovering = new Map<Address, Promise<void>>()
  /** Aborted at stop: discoveries in progress end (not fail) with what they heard. */
  #stopped = new AbortController()
  #announceTimer: ReturnType<typeof setInterval> | undefined
  #maintainTimer: ReturnType<typeof setInterval> | undefined
  #announceSoon: ReturnType<typeof setTimeout> | undefined
  #lastAnnounceMs = 0

  constructor(components: DmDiscoveryComponents, init: DmDiscoveryInit = {}) {
    this.#c = components
    this.#inbox = inboxTopic(components.self.address)
    this.#announceIntervalMs = init.announceIntervalMs ?? DM_ANNOUNCE_INTERVAL_MS
    this.#discoveryTimeoutMs = init.discoveryTimeoutMs ?? DM_DISCOVERY_TIMEOUT_MS
  }

  /** This wallet's inbox topic. */
  get inbox(): string {
    return this.#inbox
  }

  /** Announces this device now and then, keeps its one-time prekeys stocked, and asks for this wallet's other devices. */
  start(): void {
    this.#stopped = new AbortController()
    this.#c.pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.#announceTimer = setInterval(() => void this.#announce(), this.#announceIntervalMs)
    this.#maintainTimer = setInterval(() => {
      this.#c.track(
        this.#c.keyring.maintain().then(
          () => this.scheduleAnnounce(),
          (err: unknown) => this.#c.log.warn('prekey maintenance failed', { error: String(err) }),
        ),
      )
    }, DM_PREKEY_CHECK_INTERVAL_MS)
    void this.#announce()
    // This wallet's other devices answer, so that copies of what we send reach them.
    void this.query(this.#c.self.address)
  }

  stop(): void {
    this.#stopped.abort()
    clearInterval(this.#announceTimer)
    clearInterval(this.#maintainTimer)
    clearTimeout(this.#announceSoon)
    this.#announceSoon = undefined
    this.#c.pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
  }

  /** True when `peer` has no device to send to, or was not asked for {@link DM_REDISCOVERY_MS}. */
  isDue(peer: Address): boolean {
    const reachable = this.#c.store.devicesOf(peer).some((d) => d.sessions.size > 0 || d.bundle !== undefined)
    return !reachable || Date.now() - (this.#lastDiscovery.get(peer) ?? 0) >= DM_REDISCOVERY_MS
  }

  /** Asks `peer`'s inbox which devices are online and waits for their answers; one run per wallet at a time. */
  async discover(peer: Address, options: AbortOptions = {}): Promise<void> {
    let run = this.#discovering.get(peer)
    if (run === undefined) {
      run = this.#run(peer, options).finally(() => this.#discovering.delete(peer))
      this.#discovering.set(peer, run)
    }
    await run
  }

  /**
   * Until the devices that answered have been quiet for {@link DM_DISCOVERY_QUIET_MS}, or the timeout. While
   * nobody answered, the query is repeated every {@link DM_QUERY_RETRY_MS} once a neighbour carries the inbox.
   */
  async #run(peer: Address, options: AbortOptions): Promise<void> {
    const topic = inboxTopic(peer)
    const own = topic === this.#inbox
    const startedMs = Date.now()
    const deadline = startedMs + this.#discoveryTimeoutMs
    if (!own) this.#c.topics.subscribe(topic)
    const stored = own ? Promise.resolve([]) : this.#storedDevices(topic, options)
    try {
      let lastQueryMs = 0
      while (Date.now() < deadline && this.#c.topics.running) {
        options.signal?.throwIfAborted()
        const heard = this.#c.store
          .devicesOf(peer)
          .map((d) => d.bundleSeenMs)
          .filter((t) => t >= startedMs)
        let waitMs = deadline - Date.now()
        if (heard.length > 0) {
          const quietForMs = DM_DISCOVERY_QUIET_MS - (Date.now() - Math.max(...heard))
          if (quietForMs <= 0) break
          waitMs = Math.min(waitMs, quietForMs)
        } else if (this.#c.pubsub.getSubscribers(topic).length > 0) {
          if (Date.now() - lastQueryMs >= DM_QUERY_RETRY_MS) {
            lastQueryMs = Date.now()
            await this.query(peer)
          }
          waitMs = Math.min(waitMs, lastQueryMs + DM_QUERY_RETRY_MS - Date.now())
        }
        await this.#nextChange(peer, topic, waitMs, options)
      }
    } finally {
      // Stay on another wallet's inbox only while asking: the subscription tells relays whom we contact.
      if (!own) this.#c.topics.unsubscribe(topic)
    }
    for (const record of await stored) {
      if (record.certificate.address === peer) await this.#onStoredDevice(record)
    }
    this.#lastDiscovery.set(peer, Date.now())
  }

  async #storedDevices(
    topic: string,
    options: AbortOptions,
  ): ReturnType<NonNullable<DmDiscoveryComponents['storedDevices']>> {
    try {
      return (await this.#c.storedDevices?.(topic, options)) ?? []
    } catch (err) {
      this.#c.log.debug('stored device announcements unavailable', { error: String(err) })
      return []
    }
  }

  /**
   * A device's announcement kept by a relay: a device this one does not know yet becomes one to write to (its
   * messages wait on the relays). A known device is left as it is — a stored announcement may be older.
   */
  async #onStoredDevice(accepted: Extract<AcceptedDmRecord, { type: 'device' }>): Promise<void> {
    const { store, log, self } = this.#c
    if (accepted.from === self.peerId || store.get(accepted.from) !== undefined) return
    const text = accepted.record.bundle
    const bundle = await verifyDeviceBundle({ peerId: accepted.from, text, certificate: accepted.certificate, log })
    if (bundle === undefined) return
    const device = await store.deviceFor(accepted.from, accepted.certificate, bundle)
    device.bundleText = text
    this.#c.onDiscovered(describeDevice(device))
  }

  /** Resolves when a device of `peer` is heard, a neighbour joins `topic`, `waitMs` pass or the layer stops. */
  #nextChange(peer: Address, topic: string, waitMs: number, options: AbortOptions): Promise<void> {
    const { store, pubsub } = this.#c
    const stopped = this.#stopped.signal
    return new Promise<void>((resolve, reject) => {
      const onHeard = (event: CustomEvent<RemoteDevice>): void => {
        if (event.detail.address === peer) done()
      }
      const onSubscription = (event: CustomEvent<SubscriptionChangeData>): void => {
        if (event.detail.subscriptions.some((s) => s.topic === topic && s.subscribe)) done()
      }
      const onAbort = (): void => {
        reject(options.signal?.reason)
        done()
      }
      const timer = setTimeout(done, Math.max(0, waitMs))
      function done(): void {
        clearTimeout(timer)
        store.removeEventListener('device:heard', onHeard)
        pubsub.removeEventListener('subscription-change', onSubscription)
        options.signal?.removeEventListener('abort', onAbort)
        stopped.removeEventListener('abort', done)
        resolve()
      }
      store.addEventListener('device:heard', onHeard)
      pubsub.addEventListener('subscription-change', onSubscription)
      options.signal?.addEventListener('abort', onAbort)
      stopped.addEventListener('abort', done)
      if (options.signal?.aborted === true) onAbort()
      else if (stopped.aborted) done()
    })
  }

  /** A device announcement: a new or changed bundle is verified and the device (re)made from it. */
  async onDevice(from: string, bundleText: string, certificate: VerifiedCertificate): Promise<void> {
    const { store } = this.#c
    const known = store.get(from)
    if (known !== undefined && known.bundleText === bundleText && known.bundleHash === certificate.bundleHash) {
      store.heard(known)
      return
    }
    const bundle = await verifyDeviceBundle({ peerId: from, text: bundleText, certificate, log: this.#c.log })
    if (bundle === undefined) return
    const device = await store.deviceFor(from, certificate, bundle)
    store.heard(device, { bundle, text: bundleText })
    this.#c.onDiscovered(describeDevice(device))
  }

  /** A query on an inbox: answered (soon) when it is ours. */
  onQuery(topic: string): void {
    if (topic === this.#inbox) this.scheduleAnnounce()
  }

  async query(address: Address): Promise<void> {
    try {
      await this.#c.topics.publish(inboxTopic(address), {
        v: DM_WIRE_VERSION,
        type: 'query',
        inbox: inboxId(address),
        cert: this.#c.self.certificate,
        atMs: Date.now(),
      })
    } catch (err) {
      this.#c.log.debug('inbox query not published', { error: String(err) })
    }
  }

  /** Announces soon, but not more often than {@link DM_ANNOUNCE_MIN_GAP_MS}. */
  scheduleAnnounce(): void {
    if (this.#announceSoon !== undefined || !this.#c.topics.running) return
    const waitMs = Math.max(0, this.#lastAnnounceMs + DM_ANNOUNCE_MIN_GAP_MS - Date.now())
    this.#announceSoon = setTimeout(
      () => {
        this.#announceSoon = undefined
        void this.#announce()
      },
      waitMs + Math.floor(Math.random() * 50),
    )
  }

  async #announce(): Promise<void> {
    if (!this.#c.topics.running) return
    this.#lastAnnounceMs = Date.now()
    try {
      await this.#c.topics.publish(this.#inbox, {
        v: DM_WIRE_VERSION,
        type: 'device',
        inbox: inboxId(this.#c.self.address),
        cert: this.#c.self.certificate,
        bundle: this.#c.keyring.bundle,
        atMs: Date.now(),
      })
    } catch (err) {
      this.#c.log.debug('device announcement not published', { error: String(err) })
    }
  }

  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    if (event.detail.subscriptions.some((s) => s.topic === this.#inbox && s.subscribe)) this.scheduleAnnounce()
  }
}
