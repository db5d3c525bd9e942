/**
 * A room's typing indicators, read positions and call signals (docs/architecture.md, Typing and read receipts; Calls:
 * signalling): `typing`, `read` and `call` records (`wire.ts`), encrypted under the sender's sender key like a message
 * but never a message — relays forward them on a budget of their own, keep a device's latest `read` record as state
 * and no `typing` or `call` record at all.
 */
import { isCallSignalFor, parseCallSignal } from '../calls/signals.ts'
import { WIRE_VERSION } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { NotStartedError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { ReadPositions, type SignalGuard, SignalPacer, type SignalSettings } from '../signals.ts'
import type { Address, CallSignal, CallSignalEvent, ReadSignal, TypingSignal } from '../types.ts'
import type { AcceptedRecord } from './gatekeeper.ts'
import type { OuterHeader } from './room-keys.ts'
import { encodeRecord, type SignalEnvelope, type SignalRecord, signalEnvelopeSchema } from './wire.ts'

export type SignalAccepted = Extract<AcceptedRecord, { type: 'typing' | 'read' | 'call' }>

export interface RoomSignalsComponents {
  roomId: string
  self: { address: Address; peerId: string }
  settings: () => SignalSettings
  guard: SignalGuard
  /** Call signals' own receive budget (`calls/signals.ts`): typing never starves a call, nor a call typing. */
  callGuard: SignalGuard
  /** Encrypts under this device's sender key (distributed first); undefined when the room cannot send now. */
  encrypt: (plaintext: Uint8Array, header: OuterHeader) => Promise<string | undefined>
  decrypt: (from: string, ct: string, header: OuterHeader) => Promise<Uint8Array>
  publish: (bytes: Uint8Array) => Promise<void>
  onTyping: (detail: TypingSignal) => void
  onRead: (detail: ReadSignal) => void
  onCall: (detail: CallSignalEvent) => void
  now: () => number
  log: Logger
}

/** The header a signal's ciphertext binds: no clock or history of its own, it is not part of the room's history. */
function headerOf(room: string, sentAtMs: number): OuterHeader {
  return { room, lamport: 0, deps: [], sentAtMs }
}

export class RoomSignals {
  readonly #c: RoomSignalsComponents
  readonly #pacer: SignalPacer
  /** Each wallet's latest read position (its devices' newest). */
  readonly #reads = new ReadPositions<Address>()

  constructor(components: RoomSignalsComponents) {
    this.#c = components
    this.#pacer = new SignalPacer({
      sendTyping: (typing) => this.#send({ v: 1, kind: 'typing', typing }),
      sendRead: (upTo) => this.#send({ v: 1, kind: 'read', upTo }),
    })
  }

  /** The person typed, or cleared or sent the composer; nothing when typing is turned off. */
  typing(typing: boolean): boolean {
    return this.#c.settings().typing ? this.#pacer.typing(typing) : false
  }

  /** The person read the room up to message `id`; nothing when receipts are turned off. */
  read(id: string): void {
    if (this.#c.settings().receipts) this.#pacer.read(id)
  }

  /** Each wallet's latest read position heard: this wallet's own, and the others' unless receipts are turned off. */
  reads(): ReadSignal[] {
    return this.#reads.list(this.#c.settings().receipts)
  }

  stop(): void {
    this.#pacer.stop()
  }

  /**
   * Sends a call signal to every member (each reads it: every member may join a call; an offer or answer names its
   * device in `to`). Throws when it could not go: the room's own checks are the caller's (`Room.sendCallSignal`).
   */
  async sendCall(signal: CallSignal): Promise<void> {
    if (!(await this.#publish('call', signal))) throw new NotStartedError('join the room before calling')
  }

  /** A `typing`, `read` or `call` record the room's gatekeeper accepted, live or (a `read`) from a store's catch-up. */
  async receive(accepted: SignalAccepted): Promise<void> {
    const { record, certificate, from } = accepted
    const settings = this.#c.settings()
    if (from === this.#c.self.peerId) return
    // Calls are not typing or receipts: neither setting turns them off.
    if (record.type === 'call') return this.#receiveCall(accepted)
    // This wallet's own read position is the person's state, not a receipt: taken with receipts off too.
    const own = certificate.address === this.#c.self.address
    if (record.type === 'typing' ? !settings.typing : !settings.receipts && !own) return
    if (!this.#c.guard.admit(from)) {
      this.#c.log.debug('signal dropped: over its sender’s budget', { room: this.#c.roomId, from, type: record.type })
      return
    }
    let envelope: SignalEnvelope
    try {
      const plaintext = await this.#c.decrypt(from, record.payload.ct, headerOf(record.room, record.sentAtMs))
      envelope = signalEnvelopeSchema.parse(JSON.parse(utf8.decode(plaintext)))
    } catch (err) {
      // Ephemeral: one without its key yet (or already read from another copy) is not waited for.
      this.#c.log.debug('signal not read', { room: this.#c.roomId, from, type: record.type, error: String(err) })
      return
    }
    // The record's type is what relays budgeted and stored it by: its content must say the same.
    if (envelope.kind !== record.type) {
      this.#c.log.debug('signal dropped: its content names another type', { room: this.#c.roomId, from })
      return
    }
    const sender = certificate.address
    if (envelope.kind === 'typing') {
      this.#c.onTyping({
        conversation: this.#c.roomId,
        sender,
        senderPeerId: from,
        typing: envelope.typing,
        sentAtMs: record.sentAtMs,
      })
      return
    }
    const read: ReadSignal = {
      conversation: this.#c.roomId,
      reader: sender,
      readerPeerId: from,
      upTo: envelope.upTo,
      sentAtMs: record.sentAtMs,
      own,
    }
    if (this.#reads.take(sender, read)) this.#c.onRead({ ...read })
    else this.#c.log.debug('read position not newer than one known', { room: this.#c.roomId, from })
  }

  async #receiveCall({ record, certificate, from }: SignalAccepted): Promise<void> {
    const { roomId, self, log } = this.#c
    if (!this.#c.callGuard.admit(from)) {
      log.debug('call signal dropped: over budget', { room: roomId, from })
      return
    }
    let signal: CallSignal
    try {
      const plaintext = await this.#c.decrypt(from, record.payload.ct, headerOf(record.room, record.sentAtMs))
      const parsed = parseCallSignal(JSON.parse(utf8.decode(plaintext)))
      if (!parsed.ok) {
        log.debug('call signal malformed', { room: roomId, from, reason: parsed.reason })
        return
      }
      signal = parsed.signal
    } catch (err) {
      // A member removed from the room has no key to it after the rotation: its signals go unread, as its messages.
      log.debug('call signal not read', { room: roomId, from, error: String(err) })
      return
    }
    if (!isCallSignalFor(signal, from, self.peerId)) return
    this.#c.onCall({
      conversation: roomId,
      sender: certificate.address,
      senderPeerId: from,
      signal,
      sentAtMs: record.sentAtMs,
    })
  }

  async #send(envelope: SignalEnvelope): Promise<void> {
    try {
      await this.#publish(envelope.kind, envelope)
    } catch (err) {
      this.#c.log.debug('signal not sent', { room: this.#c.roomId, kind: envelope.kind, error: String(err) })
    }
  }

  /** Seals `content` under the sender key into a record of `type` and publishes it; false when the room cannot send. */
  async #publish(type: SignalRecord['type'], content: SignalEnvelope | CallSignal): Promise<boolean> {
    const { roomId } = this.#c
    const sentAtMs = this.#c.now()
    const ct = await this.#c.encrypt(utf8.encode(JSON.stringify(content)), headerOf(roomId, sentAtMs))
    if (ct === undefined) return false
    const record: SignalRecord = { v: WIRE_VERSION, type, room: roomId, sentAtMs, payload: { enc: 'sender-key', ct } }
    await this.#c.publish(encodeRecord(record))
    return true
  }
}
