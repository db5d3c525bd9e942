import { type Message, type SignedMessage, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { describeError } from '../errors.ts'
import { type EligibilityChange, type GateEvaluator, onEligibilityChange } from '../gates/evaluator.ts'
import { decideGate, type GateDecision } from '../gates/room-gate.ts'
import type { GateRule } from '../gates/rule.ts'
import type { CertificateRegistry } from '../identity/registry.ts'
import { checkSender, policyViolation, type SenderVerdict } from '../identity/sender.ts'
import type { AbortOptions, Address, VerifiedCertificate } from '../types.ts'
import { currentGateRule } from './current-gate.ts'
import { roomIdOf, type SignedManifest, verifyManifestOffline } from './manifest.ts'
import type { ModerationEvent } from './moderation-event.ts'
import { ModerationLog, type ModerationVerdict } from './moderation-log.ts'
import {
  decodeRecord,
  type KeysRecord,
  type MessageRecord,
  messageIdOf,
  type PresenceRecord,
  type SignalRecord,
} from './wire.ts'

export type AcceptedRecord =
  | {
      type: 'presence'
      record: PresenceRecord
      certificate: VerifiedCertificate
      from: string
      /** The neighbour that forwarded it: it has the sender's key bundle or can fetch it. */
      source: PeerId
    }
  | {
      type: 'message'
      record: MessageRecord
      certificate: VerifiedCertificate
      from: string
      id: string
      /** The record's bytes as published: what `id` hashes. */
      bytes: Uint8Array
    }
  | { type: 'keys'; record: KeysRecord; certificate: VerifiedCertificate; from: string }
  /** A typing indicator or read position (`room-signals.ts`). */
  | { type: 'typing'; record: SignalRecord; certificate: VerifiedCertificate; from: string }
  | { type: 'read'; record: SignalRecord; certificate: VerifiedCertificate; from: string }
  | { type: 'call'; record: SignalRecord; certificate: VerifiedCertificate; from: string }
  | {
      type: 'moderation'
      record: ModerationEvent
      certificate: VerifiedCertificate
      from: string
      verdict: Exclude<ModerationVerdict, { status: 'refused' | 'pending' }>
    }

export interface RoomGatekeeperInit {
  roomId: string
  registry: CertificateRegistry
  /** Peers always know it; a relay learns it from the first presence that carries it. */
  manifest?: SignedManifest
  /** The room's moderation log as an earlier gatekeeper of the room left it (a relay that joins a room again). */
  moderation?: ModerationLog
  /**
   * A message arrived from a PeerId whose certificate is not known yet: fetch it. Returning the fetch (the verified
   * certificate it brought, if any) makes the record wait for it and be judged with it (a relay, which has no other
   * copy of it) instead of being dropped (`Ignore`); a peer holds the record itself and returns nothing.
   */
  onUnknownSender?: (
    message: SignedMessage,
    propagationSource: PeerId,
    // biome-ignore lint/suspicious/noConfusingVoidType: a peer's handler returns nothing, a relay's its fetch
  ) => void | Promise<VerifiedCertificate | undefined>
  onRejected?: (from: string, reason: string) => void
  /** Reads a gated room's token gate; without one a gated room admits nobody (fail closed). */
  gates?: GateEvaluator
  /** A valid record was dropped (`Ignore`) because its sender fails the gate, or it could not be read. */
  onGateDropped?: (from: string, address: Address, reason: 'ineligible' | 'unavailable') => void
  /** The moderation log kept an event (applied or void): its state may have changed. */
  onModeration?: (verdict: Extract<ModerationVerdict, { status: 'applied' | 'void' }>) => void
  /**
   * A valid record was dropped (`Ignore`) because the moderation log bans its sender, kicked it after it was signed,
   * mutes it, or a lock keeps it out or silent.
   */
  onSanctionDropped?: (from: string, address: Address, reason: Sanction) => void
  /** The clock a mute's end is judged by (docs/architecture.md, Moderation: the receiver's). */
  now?: () => number
}

export type Sanction = 'banned' | 'kicked' | 'muted' | 'locked' | 'read-only'

/**
 * Gossip validation of one room topic, run identically by peers and relays (docs/architecture.md,
 * Identity): `Reject` only what is provably bad, `Ignore` what cannot be judged yet, and stay
 * synchronous unless the chain must be asked (contract wallets, token gates).
 */
export class RoomGatekeeper {
  readonly roomId: string
  readonly #registry: CertificateRegistry
  #manifest: SignedManifest | undefined
  readonly #accepted = new WeakMap<Message, AcceptedRecord>()
  readonly #types = new WeakMap<Message, AcceptedRecord['type']>()
  readonly #onUnknownSender: RoomGatekeeperInit['onUnknownSender']
  readonly #onRejected: RoomGatekeeperInit['onRejected']
  readonly #gates: GateEvaluator | undefined
  readonly #onGateDropped: RoomGatekeeperInit['onGateDropped']
  readonly #onModeration: RoomGatekeeperInit['onModeration']
  readonly #onSanctionDropped: RoomGatekeeperInit['onSanctionDropped']
  readonly #now: () => number
  #moderation: ModerationLog | undefined

  constructor(init: RoomGatekeeperInit) {
    this.roomId = init.roomId
    this.#registry = init.registry
    this.#manifest = init.manifest
    this.#moderation = init.moderation
    this.#onUnknownSender = init.onUnknownSender
    this.#onRejected = init.onRejected
    this.#gates = init.gates
    this.#onGateDropped = init.onGateDropped
    this.#onModeration = init.onModeration
    this.#onSanctionDropped = init.onSanctionDropped
    this.#now = init.now ?? Date.now
  }

  /** The room's moderation log (docs/architecture.md, Moderation), once the manifest (its first owner) is known. */
  get moderation(): ModerationLog | undefined {
    const manifest = this.#manifest?.manifest
    if (manifest !== undefined) {
      this.#moderation ??= new ModerationLog({
        roomId: this.roomId,
        owner: manifest.owner,
        chainIds: manifest.chainIds,
      })
    }
    return this.#moderation
  }

  /**
   * The room's manifest from elsewhere than a presence — a relay's store, after a restart — verified as a presence's
   * is. False, and nothing learnt, when it is not this room's or not signed by its owner.
   */
  learnManifest(input: unknown): boolean {
    if (this.#manifest !== undefined) return true
    try {
      this.#manifest = verifyManifestOffline(input, this.roomId)
      return true
    } catch {
      return false
    }
  }

  /**
   * Events of the room's log that a store kept (a relay restarted: no member sends the log again), judged as they
   * would have been live, in any order; not told (`onModeration`), being the room's past. Needs the manifest (the
   * log's first owner): without it nothing is taken. Returns how many events the log holds then.
   */
  takeUpModeration(events: readonly unknown[]): number {
    const log = this.moderation
    if (log === undefined) return 0
    for (const event of events) log.add(event)
    return log.entries().length
  }

  /** Whether the moderation log bans `address`: nobody seals keys to it and its records are dropped. */
  isBanned(address: string): boolean {
    return this.moderation?.isBanned(address) ?? false
  }

  /** Adds an event this node signed itself (gossipsub does not validate our own records). */
  addOwnModeration(event: ModerationEvent): ModerationVerdict {
    const log = this.moderation
    if (log === undefined) return { status: 'refused', reason: 'the room manifest is not known yet' }
    const verdict = log.add(event)
    if (verdict.status === 'applied' || verdict.status === 'void') this.#onModeration?.(verdict)
    return verdict
  }

  get manifest(): SignedManifest | undefined {
    return this.#manifest
  }

  /** What {@link validate} accepted for this message object (gossipsub passes the same one on). */
  accepted(message: Message): AcceptedRecord | undefined {
    return this.#accepted.get(message)
  }

  /**
   * The type of a record {@link validate} decoded, whatever it decided; undefined for one it could not decode. A relay
   * charges a record it dropped unjudged to its type's budget (`RecordRates.guard`) without decoding it again.
   */
  typeOf(message: Message): string | undefined {
    return this.#types.get(message)
  }

  /** The gossipsub topic validator. */
  readonly validate = (
    propagationSource: PeerId,
    message: Message,
  ): TopicValidatorResult | Promise<TopicValidatorResult> =>
    this.#gate(message, this.#validate(propagationSource, message, true))

  #validate(
    propagationSource: PeerId,
    message: Message,
    fetchUnknown: boolean,
  ): TopicValidatorResult | Promise<TopicValidatorResult> {
    if (message.type !== 'signed') return this.#reject('?', 'unsigned record')
    const from = message.from.toString()
    const decoded = decodeRecord(message.data)
    if (decoded.status === 'unknown') return TopicValidatorResult.Ignore
    if (decoded.status === 'malformed') return this.#reject(from, `malformed record: ${decoded.reason}`)
    const { record } = decoded
    this.#types.set(message, record.type)
    if (record.room !== this.roomId) return this.#reject(from, 'record names another room')

    if (record.type === 'presence') {
      // The manifest rides in every presence: verify its signature once, then compare.
      const known = this.#manifest
      const alreadyVerified =
        known !== undefined &&
        record.manifest !== undefined &&
        record.manifest.signature === known.signature &&
        roomIdOf(record.manifest.manifest) === this.roomId
      if (record.manifest !== undefined && !alreadyVerified) {
        try {
          const manifest = verifyManifestOffline(record.manifest, this.roomId)
          this.#manifest ??= manifest
        } catch (err) {
          return this.#reject(from, describeError(err))
        }
      }
      const judge = (sender: SenderVerdict): TopicValidatorResult => {
        if (sender.status === 'valid') {
          return this.#acceptPresence(message, record, sender.certificate, from, propagationSource)
        }
        if (sender.status === 'invalid') return this.#reject(from, sender.reason)
        return TopicValidatorResult.Ignore
      }
      const sender = checkSender(this.#registry, from, record.cert)
      return sender instanceof Promise ? sender.then(judge) : judge(sender)
    }

    const certificate = this.#registry.get(from)
    if (certificate !== undefined) return this.#acceptMessage(message, record, certificate, from)
    // The sender's presence is still being checked on chain (contract wallet): wait for it.
    const pending = this.#registry.pending(from)
    if (pending !== undefined) {
      return pending.then((result) =>
        result.status === 'valid'
          ? this.#acceptMessage(message, record, result.certificate, from)
          : TopicValidatorResult.Ignore,
      )
    }
    const fetched = fetchUnknown ? this.#onUnknownSender?.(message, propagationSource) : undefined
    if (fetched === undefined) return TopicValidatorResult.Ignore
    return fetched.then(
      (certificate) =>
        certificate === undefined
          ? TopicValidatorResult.Ignore
          : this.#acceptMessage(message, record, certificate, from),
      () => TopicValidatorResult.Ignore,
    )
  }

  #acceptMessage(
    message: Message,
    record: MessageRecord | KeysRecord | SignalRecord | ModerationEvent,
    certificate: VerifiedCertificate,
    from: string,
  ): TopicValidatorResult {
    const policy = this.#checkPolicy(certificate)
    if (policy !== undefined) return this.#reject(from, policy)
    if (this.isBanned(certificate.address)) return this.#dropSanctioned(from, certificate.address, 'banned')
    if (record.type === 'moderation') return this.#acceptModeration(message, record, certificate, from)
    const sanction = this.#silenced(certificate.address, record)
    if (sanction !== undefined) return this.#dropSanctioned(from, certificate.address, sanction)
    this.#accepted.set(
      message,
      record.type === 'keys'
        ? { type: 'keys', record, certificate, from }
        : record.type === 'message'
          ? { type: 'message', record, certificate, from, id: messageIdOf(message.data), bytes: message.data }
          : { type: record.type, record, certificate, from },
    )
    return TopicValidatorResult.Accept
  }

  /**
   * Re-validates a message held back while its sender's certificate was fetched. Returns the
   * accepted record, or undefined when it still fails.
   */
  async revalidate(message: SignedMessage): Promise<AcceptedRecord | undefined> {
    const result = await this.#gate(message, this.#validate(message.from, message, false), { deferred: true })
    return result === TopicValidatorResult.Accept ? this.#accepted.get(message) : undefined
  }

  #acceptPresence(
    message: Message,
    record: PresenceRecord,
    certificate: VerifiedCertificate,
    from: string,
    source: PeerId,
  ): TopicValidatorResult {
    const policy = this.#checkPolicy(certificate)
    if (policy !== undefined) return this.#reject(from, policy)
    if (this.isBanned(certificate.address)) return this.#dropSanctioned(from, certificate.address, 'banned')
    // A presence signed before the member was kicked (a store's copy, a replay): it rejoins only by a later one.
    const kick = this.moderation?.kickOf(certificate.address)
    if (kick !== undefined && record.atMs <= kick.atMs) return this.#dropSanctioned(from, certificate.address, 'kicked')
    // A lock admits no one new: a member it does not list stays out (its presence goes nowhere) until the unlock.
    if (this.moderation?.isLockedOut(certificate.address) === true) {
      return this.#dropSanctioned(from, certificate.address, 'locked')
    }
    this.#accepted.set(message, { type: 'presence', record, certificate, from, source })
    return TopicValidatorResult.Accept
  }

  /**
   * A moderation record: its event judged by the log (the same on every peer and relay). Refused events are rejected
   * with the reason; one whose previous event is not here yet is ignored (kept aside until the chain is whole).
   */
  #acceptModeration(
    message: Message,
    record: ModerationEvent,
    certificate: VerifiedCertificate,
    from: string,
  ): TopicValidatorResult {
    const log = this.moderation
    if (log === undefined) return TopicValidatorResult.Ignore
    const verdict = log.add(record)
    if (verdict.status === 'refused') return this.#reject(from, `moderation event refused: ${verdict.reason}`)
    if (verdict.status === 'pending') return TopicValidatorResult.Ignore
    this.#accepted.set(message, { type: 'moderation', record, certificate, from, verdict })
    if (verdict.status !== 'duplicate') this.#onModeration?.(verdict)
    return TopicValidatorResult.Accept
  }

  /**
   * Why the log silences this record of `address`, if it does. A member locked out sends nothing; a muted member or,
   * under a read-only lock, any member sends no message (text, reaction, edit, delete), typing or call signal (it
   * would speak in a call), but its presence, keys and read positions still go (it keeps reading). A mute holds while this node's clock is before its end —
   * and a record dated within it is dropped even later, so nothing written while muted is queued for after.
   */
  #silenced(address: Address, record: MessageRecord | KeysRecord | SignalRecord): Sanction | undefined {
    const log = this.moderation
    if (log === undefined) return undefined
    if (log.isLockedOut(address)) return 'locked'
    if (record.type !== 'message' && record.type !== 'typing' && record.type !== 'call') return undefined
    if (log.isSilencedByLock(address)) return 'read-only'
    const mute = log.muteOf(address)
    if (mute === undefined) return undefined
    const dated = record.sentAtMs >= mute.atMs && record.sentAtMs < mute.untilMs
    return this.#now() < mute.untilMs || dated ? 'muted' : undefined
  }

  #dropSanctioned(from: string, address: Address, reason: Sanction): TopicValidatorResult {
    this.#onSanctionDropped?.(from, address, reason)
    return TopicValidatorResult.Ignore
  }

  /** The room's rules on top of a valid certificate; a relay without the manifest skips them. */
  #checkPolicy(certificate: VerifiedCertificate): string | undefined {
    const manifest = this.#manifest?.manifest
    return manifest === undefined ? undefined : policyViolation(certificate, manifest)
  }

  // --- Token gate hook (docs/architecture.md, Token gates): runs after the checks above accepted a record ---

  /**
   * The room's current token gate (once the manifest is known), else undefined: the one place peers and relays read
   * it, so nothing judges by a rule the log replaced (`currentGateRule`).
   */
  get gateRule(): GateRule | undefined {
    const manifest = this.#manifest?.manifest
    return manifest === undefined ? undefined : currentGateRule(manifest, this.moderation)
  }

  /**
   * Whether `address` passes the room's gate at a recent block: true in a room without one,
   * false when it cannot be known (fail closed). For whoever shares keys with members.
   */
  async isEligible(address: string, options: AbortOptions = {}): Promise<boolean> {
    const rule = this.gateRule
    if (rule === undefined) return true
    return this.#gates === undefined ? false : this.#gates.isEligible(rule, address, options)
  }

  /** Calls `listener` when a member's eligibility for this room's gate changes; returns the unsubscribe. */
  onEligibilityChange(listener: (change: EligibilityChange & { eligible: boolean }) => void): () => void {
    const rule = this.gateRule
    if (rule === undefined || this.#gates === undefined) return () => {}
    return onEligibilityChange(this.#gates, rule, listener)
  }

  /**
   * Keeps an accepted record only if its sender passes the gate; `Ignore` otherwise. In a gated room
   * always a Promise: the record waits for a head read after its arrival (`decideGate`); a re-validated
   * one (held back, or fetched from a store) may share a read that started a little before (`deferred`).
   */
  #gate(
    message: Message,
    result: TopicValidatorResult | Promise<TopicValidatorResult>,
    options: { deferred?: boolean } = {},
  ): TopicValidatorResult | Promise<TopicValidatorResult> {
    if (result instanceof Promise) return result.then((settled) => this.#gate(message, settled, options))
    const rule = this.gateRule
    const accepted = this.#accepted.get(message)
    if (result !== TopicValidatorResult.Accept || rule === undefined || accepted === undefined) return result
    // A moderation event's authority is its author's role in the log, not a token: an owner who set a gate it fails
    // itself (or a relay without a chain) must still carry the owner's next change, or the room could never reopen.
    if (accepted.type === 'moderation') return result
    return decideGate(this.#gates, rule, accepted.certificate.address, options).then((decision: GateDecision) => {
      if (decision.admit) return TopicValidatorResult.Accept
      this.#accepted.delete(message)
      this.#onGateDropped?.(accepted.from, accepted.certificate.address, decision.reason)
      return TopicValidatorResult.Ignore
    })
  }

  #reject(from: string, reason: string): TopicValidatorResult {
    this.#onRejected?.(from, reason)
    return TopicValidatorResult.Reject
  }
}
