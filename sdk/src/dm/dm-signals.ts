/**
 * Typing indicators, read receipts and call signals of DMs (docs/direct-messages.md, Read receipts and typing;
 * docs/architecture.md, Calls: signalling), over the same Double Ratchet sessions as messages, device by device:
 * - typing goes to the other wallet's devices in `signal` records, only on sessions already established (a typing
 *   indicator never starts one), which relays forward on their signals budget and never store;
 * - a call signal goes likewise, in `signal` records, to the other wallet's devices and this wallet's other devices
 *   (naming the conversation, `peer`) — or only to the device an offer or answer names; but a call's `here` opens a
 *   session where there is none (in an initial message, as a first text would), so that a call rings a wallet never
 *   written to;
 * - a read position goes to the other wallet's devices (unless receipts are off) and, naming the conversation, to
 *   this wallet's other devices (always: it is the person's own state) in `msg` records, which relays store, so a
 *   device that was offline learns it on its return.
 */
import { setNewest } from '../bounded-map.ts'
import { isCallSignalFor, parseCallSignal } from '../calls/signals.ts'
import { MAX_SIGNAL_SENDERS } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError, UnreachableError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { ReadPositions, type SignalGuard, SignalPacer, type SignalSettings } from '../signals.ts'
import type { Address, CallSignal, CallSignalEvent, DmDeviceResult, ReadSignal, TypingSignal } from '../types.ts'
import type { DmSessionStore, RemoteDevice } from './session-store.ts'
import type { DmSendOptions } from './sessions.ts'
import { checksumAddress } from './topics.ts'
import type { DmCall, DmRead } from './wire.ts'

export interface DmSignalsComponents {
  self: Address
  selfPeerId: string
  store: DmSessionStore
  settings: () => SignalSettings
  guard: SignalGuard
  /** Call signals' own receive budget (`calls/signals.ts`). */
  callGuard: SignalGuard
  /** Encrypts for and publishes to one device (`DmSessions.sendTo`). */
  sendTo: (device: RemoteDevice, plaintext: Uint8Array, options: DmSendOptions) => Promise<DmDeviceResult>
  /** Finds a wallet's devices when it is time to (`DmDiscovery`): before a call rings a wallet never written to. */
  discoverIfDue: (peer: Address) => Promise<void>
  track: <T>(work: Promise<T>) => Promise<T>
  onTyping: (detail: TypingSignal) => void
  onRead: (detail: ReadSignal) => void
  onCall: (detail: CallSignalEvent) => void
  log: Logger
}

export class DmSignals {
  readonly #c: DmSignalsComponents
  readonly #pacers = new Map<Address, SignalPacer>()
  /** The other wallet's latest read position per conversation, and this wallet's own (`own`). */
  readonly #reads = new ReadPositions<string>()

  constructor(components: DmSignalsComponents) {
    this.#c = components
  }

  /** The person typed in the conversation with `peer`, or cleared or sent the composer. */
  typing(peer: Address, typing: boolean): boolean {
    return this.#c.settings().typing ? this.#pacer(peer).typing(typing) : false
  }

  /** The person read the conversation with `peer` up to message `id`. */
  read(peer: Address, id: string): void {
    this.#pacer(peer).read(id)
  }

  /** Every read position heard: the other wallets' (none while receipts are off) and this wallet's own. */
  reads(): ReadSignal[] {
    return this.#reads.list(this.#c.settings().receipts)
  }

  /** The other wallet's latest read position heard (undefined while receipts are off). */
  readOf(peer: Address): ReadSignal | undefined {
    return this.#c.settings().receipts ? this.#reads.get(`peer ${peer}`) : undefined
  }

  stop(): void {
    for (const pacer of this.#pacers.values()) pacer.stop()
    this.#pacers.clear()
  }

  /** A typing envelope from `device` (its wallet is the conversation; this wallet's own never type to it). */
  onTyping(device: RemoteDevice, typing: boolean, sentAtMs: number): void {
    if (!this.#c.settings().typing || device.address === this.#c.self) return
    if (!this.#c.guard.admit(device.peerId)) return
    this.#c.onTyping({
      conversation: device.address,
      sender: device.address,
      senderPeerId: device.peerId,
      typing,
      sentAtMs,
    })
  }

  /**
   * A read envelope from `device`: from the other wallet, it read what this one sent; from another device of this
   * wallet (with `to`), this wallet read the conversation with `to`. A `to` from anyone else is refused: a device
   * speaks for its own wallet only.
   */
  onRead(device: RemoteDevice, read: DmRead, sentAtMs: number): void {
    const own = device.address === this.#c.self
    if (own !== (read.to !== undefined)) return
    if (!own && !this.#c.settings().receipts) return
    if (!this.#c.guard.admit(device.peerId)) return
    const conversation = own ? checksumAddress(read.to!) : device.address
    if (own && conversation === this.#c.self) return
    const detail: ReadSignal = {
      conversation,
      reader: device.address,
      readerPeerId: device.peerId,
      upTo: read.upTo,
      sentAtMs,
      own,
    }
    if (this.#reads.take(`${own ? 'own' : 'peer'} ${conversation}`, detail)) this.#c.onRead({ ...detail })
  }

  /**
   * Sends a call signal in the conversation with `peer`: to each of its devices and this wallet's other devices, or,
   * an offer or answer, to the one device it names. Ephemeral, like typing; a `here` to a wallet with no device known
   * finds its devices first (when due), and opens a session with each device that has none. Throws when it reached none of `peer`'s devices (or not the
   * device named).
   */
  async sendCall(peer: Address, signal: CallSignal): Promise<void> {
    const { store, self } = this.#c
    const opensSession = signal.op === 'here'
    // Only for a wallet with no device known: a call repeats its `here` every 10 s, and each would set off a discovery
    // (an inbox subscription and a query the relays see) once a minute.
    if (opensSession && store.devicesOf(peer).length === 0) await this.#c.discoverIfDue(peer)
    const sentAtMs = Date.now()
    let targets: Array<{ device: RemoteDevice; peer?: Address }> = [
      ...store.devicesOf(peer).map((device) => ({ device })),
      ...store.devicesOf(self).map((device) => ({ device, peer })),
    ]
    if ('to' in signal) {
      targets = targets.filter(({ device }) => device.peerId === signal.to)
      if (targets.length === 0) {
        throw new InvalidInputError(`device ${signal.to} is not a known device of ${peer} or of this wallet`, {
          hint: 'answer or offer to a device a `here` came from (its senderPeerId); conversation.discover() finds the others',
        })
      }
    }
    const results = await Promise.all(
      targets.map(async ({ device, ...copy }) => {
        const plaintext = utf8.encode(JSON.stringify({ ...signal, sentAtMs, ...copy }))
        const result = await this.#c.track(this.#c.sendTo(device, plaintext, { ephemeral: true, opensSession }))
        if (result.status === 'failed')
          this.#c.log.debug('DM call signal not sent', { peer: device.peerId, error: result.error })
        return { device, sent: result.status === 'sent' }
      }),
    )
    const reached = results.filter(({ device, sent }) => sent && ('to' in signal || device.address === peer))
    if (reached.length === 0) {
      const theirs = results.filter(({ device }) => device.address === peer).length
      throw new UnreachableError(`the call signal reached no device of ${peer}`, {
        details: { devices: results.length },
        hint:
          theirs === 0 && !('to' in signal)
            ? 'no device of this wallet was found: it has not used SecureChat yet, or none of its devices has been online lately; a message waits for it, a call does not'
            : opensSession
              ? 'none of its devices could be reached now (the log says why): try again in a moment'
              : "only a `here` opens a session: send the call's `here` first, then offers and answers",
      })
    }
  }

  /**
   * A call envelope from `device`: from the other wallet, in the conversation with it; from another device of this
   * wallet, in the conversation with `peer` (which only such a copy names). Dropped, logged at debug, when it fails
   * the schema, is over the sender's budget, or names another device.
   */
  onCall(device: RemoteDevice, envelope: DmCall): void {
    const { self, log } = this.#c
    const { sentAtMs, peer, ...content } = envelope
    const own = device.address === self
    if (own !== (peer !== undefined)) {
      log.debug('DM call signal dropped: a conversation named by another wallet, or none by this one', {
        from: device.peerId,
      })
      return
    }
    if (!this.#c.callGuard.admit(device.peerId)) {
      log.debug('DM call signal dropped: over budget', { from: device.peerId })
      return
    }
    const parsed = parseCallSignal(content)
    if (!parsed.ok) {
      log.debug('DM call signal malformed', { from: device.peerId, reason: parsed.reason })
      return
    }
    if (!isCallSignalFor(parsed.signal, device.peerId, this.#c.selfPeerId)) return
    const conversation = own ? checksumAddress(peer!) : device.address
    if (own && conversation === self) return
    this.#c.onCall({
      conversation,
      sender: device.address,
      senderPeerId: device.peerId,
      signal: parsed.signal,
      sentAtMs,
    })
  }

  #pacer(peer: Address): SignalPacer {
    let pacer = this.#pacers.get(peer)
    if (pacer === undefined) {
      pacer = new SignalPacer({
        sendTyping: async (typing) => {
          await this.#send(this.#c.store.devicesOf(peer), { v: 1, kind: 'typing', typing }, true)
        },
        sendRead: async (upTo) => {
          const { store, self } = this.#c
          const own = store.devicesOf(self).map((device) => ({ device, to: peer }))
          const theirs = this.#c.settings().receipts ? store.devicesOf(peer).map((device) => ({ device })) : []
          await Promise.all(
            [...theirs, ...own].map(({ device, ...to }) =>
              this.#send([device], { v: 1, kind: 'read', upTo, ...to }, false),
            ),
          )
        },
      })
      setNewest(this.#pacers, peer, pacer, MAX_SIGNAL_SENDERS)
    }
    return pacer
  }

  async #send(devices: RemoteDevice[], envelope: object, ephemeral: boolean): Promise<void> {
    // The time rides in the envelope's record as received (`sentAtMs` is the receiver's clock otherwise).
    const plaintext = utf8.encode(JSON.stringify({ ...envelope, sentAtMs: Date.now() }))
    await Promise.all(
      devices.map(async (device) => {
        const result = await this.#c.track(this.#c.sendTo(device, plaintext, { ephemeral }))
        if (result.status === 'failed') this.#c.log.debug('DM signal not sent', { peer: device.peerId })
      }),
    )
  }
}
