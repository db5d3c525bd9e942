/**
 * Messages, one level above sessions: a text goes to every device of the recipient wallet and, as a copy that
 * names the recipient, to this wallet's other devices; a decrypted envelope becomes a {@link DirectMessage} of
 * the right conversation, and a record that could not be read an {@link UndecryptableDirectMessage}.
 */
import type { z } from 'zod'
import { MAX_TEXT_BYTES } from '../constants.ts'
import { CryptoError } from '../crypto/errors.ts'
import { bytesToHex, randomBytes } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError, SecureChatError } from '../errors.ts'
import { firstIssue } from '../json-records.ts'
import type { LateArrivals } from '../late-arrivals.ts'
import type { Logger } from '../logger.ts'
import { acceptMentions } from '../mentions.ts'
import type {
  AbortOptions,
  Address,
  DirectMessage,
  DmSendResult,
  FileManifest,
  MessageChange,
  TimerChange,
  UndecryptableDirectMessage,
} from '../types.ts'
import type { DmDiscovery } from './discovery.ts'
import type { DmSignals } from './dm-signals.ts'
import type { AcceptedDmRecord } from './gatekeeper.ts'
import type { DmOutgoing } from './outgoing.ts'
import type { DmReceipts } from './receipts.ts'
import type { DmSessionStore, RemoteDevice } from './session-store.ts'
import type { DmSessions } from './sessions.ts'
import { checksumAddress, inboxTopic } from './topics.ts'
import { type DmWritten, dmEnvelopeSchema } from './wire.ts'

/** What a person writes, without the fields every kind carries (`dm/wire.ts`). */
export type DmContent =
  | { kind: 'text'; body: string; parent?: string; mentions?: Address[]; file?: FileManifest }
  | { kind: 'react'; target: string; emoji: string; remove?: true }
  | { kind: 'edit'; target: string; body: string; mentions?: Address[] }
  | { kind: 'delete'; target: string }
  | { kind: 'timer'; seconds: number }

export interface DmDeliveryComponents {
  self: Address
  store: DmSessionStore
  discovery: DmDiscovery
  sessions: DmSessions
  receipts: DmReceipts
  /** Typing indicators and read positions (`dm-signals.ts`). */
  signals: DmSignals
  /** What was sent each device lately (`deps`), and the texts waiting for a receipt (re-sent). */
  outgoing: DmOutgoing
  log: Logger
  /** Work that stop waits for: every send to a device saves its session. */
  track: <T>(work: Promise<T>) => Promise<T>
  onMessage: (message: DirectMessage) => void
  /** A reaction, edit or delete in the conversation with `conversation` (not yet checked against its message). */
  onChange: (conversation: Address, change: MessageChange) => void
  onTimer: (conversation: Address, change: TimerChange) => void
  onUndecryptable: (detail: UndecryptableDirectMessage) => void
  /** A text from `device` in record `recordId` names the records it was sent before (`deps`): gap repair. */
  onDeps: (device: RemoteDevice, recordId: string, deps: readonly string[]) => void
  /** Where a late text belongs in its conversation (`before`), and its `deps` as message ids. */
  arrivals: LateArrivals
}

export class DmDelivery {
  readonly #c: DmDeliveryComponents

  constructor(components: DmDeliveryComponents) {
    this.#c = components
  }

  /**
   * Sends a text, reaction, edit, delete or timer to every device of `peer` and of this wallet (discovering them
   * first when due).
   */
  async write(peer: Address, content: DmContent, options: AbortOptions = {}): Promise<DmSendResult> {
    const { store, discovery, sessions, self } = this.#c
    if (discovery.isDue(peer)) await discovery.discover(peer, options)
    const envelope = { v: 1, id: bytesToHex(randomBytes(16)), sentAtMs: Date.now(), ...content } as DmWritten
    const { outgoing } = this.#c
    const targets = [
      ...store.devicesOf(peer).map((device) => ({ device, envelope })),
      ...store.devicesOf(self).map((device) => ({ device, envelope: { ...envelope, to: peer } })),
    ]
    const delivery = await Promise.all(
      targets.map(async ({ device, envelope: copy }) => {
        const deps = outgoing.deps(device.peerId)
        const written: DmWritten = deps === undefined ? copy : { ...copy, deps }
        const result = await this.#c.track(sessions.sendTo(device, utf8.encode(JSON.stringify(written))))
        if (result.status === 'sent') {
          const topic = result.handshake ? inboxTopic(device.address) : device.topic
          const { address, peerId, record, recipients } = result
          outgoing.sent({ id: envelope.id, conversation: peer, address, peerId, topic, record, recipients })
        }
        return result
      }),
    )
    this.#c.receipts.sent(peer, envelope.id, delivery)
    return { id: envelope.id, sentAtMs: envelope.sentAtMs, delivery }
  }

  /** A decrypted envelope from `device`: a message of the conversation it belongs to, or a receipt (acks are neither). */
  deliver(device: RemoteDevice, plaintext: Uint8Array, accepted: AcceptedDmRecord, handshake: boolean): void {
    let envelope: z.infer<typeof dmEnvelopeSchema>
    try {
      const parsed = dmEnvelopeSchema.safeParse(JSON.parse(utf8.decode(plaintext)))
      if (!parsed.success) {
        throw new InvalidInputError(`the decrypted envelope is malformed (${firstIssue(parsed.error, 'envelope')})`)
      }
      envelope = parsed.data
    } catch (cause) {
      this.undecryptable(
        accepted,
        cause instanceof InvalidInputError
          ? cause
          : new InvalidInputError('the decrypted envelope is malformed', { cause }),
      )
      return
    }
    if (envelope.kind === 'ack') return
    if (envelope.kind === 'receipt') {
      this.#c.receipts.onReceipt(device, envelope.ids)
      return
    }
    if (envelope.kind === 'typing') {
      this.#c.signals.onTyping(device, envelope.typing, envelope.sentAtMs)
      return
    }
    if (envelope.kind === 'read') {
      this.#c.signals.onRead(device, envelope, envelope.sentAtMs)
      return
    }
    if (envelope.kind === 'call') {
      this.#c.signals.onCall(device, envelope)
      return
    }
    if (envelope.deps !== undefined) this.#c.onDeps(device, accepted.recordId, envelope.deps)
    const deps = envelope.deps ?? []
    const before = this.#c.arrivals.delivered(accepted.recordId, deps, envelope.id)
    const self = this.#c.self
    let conversation: Address
    let direction: DirectMessage['direction']
    if (device.address !== self) {
      conversation = device.address
      direction = 'in'
    } else if (envelope.to !== undefined && checksumAddress(envelope.to) !== self) {
      conversation = checksumAddress(envelope.to)
      direction = 'out'
    } else {
      return
    }
    if (envelope.kind === 'timer') {
      const { id, sentAtMs, seconds } = envelope
      this.#c.onTimer(conversation, { id, sender: device.address, senderPeerId: device.peerId, sentAtMs, seconds })
      this.#c.receipts.received(device, envelope.id)
      return
    }
    if (envelope.kind !== 'text') {
      const { id, sentAtMs, target } = envelope
      const common = { id, target, sender: device.address, senderPeerId: device.peerId, sentAtMs }
      this.#c.onChange(
        conversation,
        envelope.kind === 'react'
          ? { ...common, kind: 'react', emoji: envelope.emoji, remove: envelope.remove === true }
          : envelope.kind === 'edit'
            ? { ...common, kind: 'edit', body: envelope.body, ...this.#mentions(envelope) }
            : { ...common, kind: 'delete' },
      )
      this.#c.receipts.received(device, envelope.id)
      return
    }
    this.#c.onMessage({
      conversation,
      id: envelope.id,
      sender: device.address,
      senderPeerId: device.peerId,
      direction,
      kind: 'text',
      text: envelope.body,
      parentId: envelope.parent,
      mentions: this.#mentions(envelope).mentions ?? [],
      ...(envelope.file === undefined ? {} : { file: envelope.file }),
      sentAtMs: envelope.sentAtMs,
      deps: this.#c.arrivals.messageIdsOf(deps),
      before,
      receivedAtMs: Date.now(),
      handshake,
    })
    this.#c.receipts.received(device, envelope.id)
  }

  /** The mentions kept of a text's or an edit's list (`mentions.ts`): those its text shows; the rest logged. */
  #mentions(envelope: { id: string; body: string; mentions?: string[] | undefined }): { mentions?: Address[] } {
    const { mentions, dropped } = acceptMentions(envelope.mentions, envelope.body)
    if (dropped.length > 0) this.#c.log.debug('mentions dropped', { id: envelope.id, dropped })
    return mentions.length === 0 ? {} : { mentions }
  }

  undecryptable(accepted: AcceptedDmRecord, err: unknown): void {
    const detail: UndecryptableDirectMessage = {
      recordId: accepted.recordId,
      sender: accepted.certificate.address,
      senderPeerId: accepted.from,
      error: err instanceof Error ? err.name : 'Error',
      reason: explain(err),
    }
    this.#c.log.info('DM not decrypted', { from: accepted.from, error: detail.error })
    this.#c.onUndecryptable(detail)
  }
}

/** Why a record could not be read, for people: names what happened, never key material. */
function explain(err: unknown): string {
  const name = err instanceof Error ? err.name : ''
  switch (name) {
    case 'DecryptionFailedError':
      return 'the ciphertext or its header was altered, or it was encrypted for another session'
    case 'DuplicateMessageError':
      return 'already received, or older than the skipped message keys this device keeps'
    case 'SkippedKeyLimitError':
      return 'too far ahead of the session (more messages skipped than MAX_FORWARD_JUMP allows)'
    case 'PrekeyNotFoundError':
      return 'it names a prekey this device no longer has (a one-time prekey already used, or a signed prekey rotated away); the sender must start a new session'
    case 'InvalidKeyError':
      return `the sender's identity key does not match its certificate (${(err as Error).message})`
    default:
      if (err instanceof CryptoError || err instanceof SecureChatError) return err.message
      return String(err)
  }
}

export function checkDmText(text: string): void {
  if (utf8.encode(text).byteLength > MAX_TEXT_BYTES) {
    throw new InvalidInputError('message is too long', {
      details: { max: MAX_TEXT_BYTES },
      hint: 'split it into several messages',
    })
  }
}

export function checkDmId(id: string, field: string): void {
  if (!/^[0-9a-f]{32}$/.test(id)) {
    throw new InvalidInputError(`${field} is not a DM message id`, { details: { [field]: id } })
  }
}
