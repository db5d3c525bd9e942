import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { CertificateRegistry } from '../identity/registry.ts'
import { checkSender, policyViolation, type SenderVerdict } from '../identity/sender.ts'
import type { VerifiedCertificate } from '../types.ts'
import { inboxId, parseDmTopic } from './topics.ts'
import {
  type DeviceRecord,
  type DmRecord,
  decodeDmRecord,
  dmRecordId,
  type InitRecord,
  type MsgRecord,
  type QueryRecord,
  type SignalRecord,
} from './wire.ts'

/** A record that passed validation, with its sender's verified certificate. */
export type AcceptedDmRecord = {
  certificate: VerifiedCertificate
  from: string
  topic: string
  /** sha256 of the record bytes, hex. */
  recordId: string
} & (
  | { type: 'device'; record: DeviceRecord }
  | { type: 'query'; record: QueryRecord }
  | { type: 'init'; record: InitRecord }
  | { type: 'msg'; record: MsgRecord }
  | { type: 'signal'; record: SignalRecord }
)

export interface DmGatekeeperInit {
  registry: CertificateRegistry
  /**
   * Domains and chains whose certificates a client accepts (its own by default). A record
   * outside them is `Ignore`d, not rejected: the policy is the receiver's, not the network's.
   * Relays have none.
   */
  policy?: { domains: readonly string[]; chainIds: readonly number[] }
  onRejected?: (from: string, reason: string) => void
}

/**
 * Gossip validation of DM topics, run identically by peers and relays (the room gatekeeper's
 * pattern, docs/architecture.md, Identity): `Reject` what is provably bad (a malformed record, an invalid
 * certificate, a device announcing itself on another wallet's inbox, a record type that does
 * not belong on the topic), `Ignore` what is not ours to judge (unknown versions, a contract
 * wallet with no chain to ask). Every DM record carries its sender's certificate, so
 * validation needs no certificate fetch and stays synchronous for ordinary wallets.
 * One instance serves every DM topic.
 */
export class DmGatekeeper {
  readonly #registry: CertificateRegistry
  readonly #policy: DmGatekeeperInit['policy']
  readonly #onRejected: DmGatekeeperInit['onRejected']
  readonly #accepted = new WeakMap<Message, AcceptedDmRecord>()
  readonly #types = new WeakMap<Message, DmRecord['type']>()

  constructor(init: DmGatekeeperInit) {
    this.#registry = init.registry
    this.#policy = init.policy
    this.#onRejected = init.onRejected
  }

  /** What {@link validate} accepted for this message object (gossipsub passes the same one on). */
  accepted(message: Message): AcceptedDmRecord | undefined {
    return this.#accepted.get(message)
  }

  /** The type of a record {@link validate} decoded, whatever it decided; undefined for one it could not decode. */
  typeOf(message: Message): string | undefined {
    return this.#types.get(message)
  }

  /** The gossipsub topic validator of every DM topic. */
  readonly validate = (_source: PeerId, message: Message): TopicValidatorResult | Promise<TopicValidatorResult> => {
    if (message.type !== 'signed') return this.#reject('?', 'unsigned record')
    const from = message.from.toString()
    const topic = parseDmTopic(message.topic)
    if (topic === undefined) return this.#reject(from, 'not a DM topic')
    const decoded = decodeDmRecord(message.data)
    if (decoded.status === 'unknown') return TopicValidatorResult.Ignore
    if (decoded.status === 'malformed') return this.#reject(from, `malformed record: ${decoded.reason}`)
    const { record } = decoded
    this.#types.set(message, record.type)
    const ratchet = record.type === 'msg' || record.type === 'signal'
    if (topic.kind === 'pair' && !ratchet) return this.#reject(from, `${record.type} on a pair topic`)
    if (topic.kind === 'inbox') {
      if (ratchet) return this.#reject(from, `${record.type} on an inbox topic`)
      if (record.inbox !== topic.inbox) return this.#reject(from, 'record names another inbox')
      if (record.type === 'init' && record.to === from) return this.#reject(from, 'init addressed to its sender')
    }
    const sender = checkSender(this.#registry, from, record.cert)
    return sender instanceof Promise
      ? sender.then((settled) => this.#decide(message, record, settled, from))
      : this.#decide(message, record, sender, from)
  }

  #decide(message: Message, record: DmRecord, sender: SenderVerdict, from: string): TopicValidatorResult {
    if (sender.status === 'invalid') return this.#reject(from, sender.reason)
    // A contract wallet that cannot be checked now: not provably bad.
    if (sender.status === 'unverifiable') return TopicValidatorResult.Ignore
    const certificate = sender.certificate
    if (record.type === 'device' && inboxId(certificate.address) !== record.inbox) {
      return this.#reject(from, "a device announced itself on another wallet's inbox")
    }
    const violation = this.#policy === undefined ? undefined : policyViolation(certificate, this.#policy)
    if (violation !== undefined) {
      this.#onRejected?.(from, violation)
      return TopicValidatorResult.Ignore
    }
    this.#accepted.set(message, {
      type: record.type,
      record,
      certificate,
      from,
      topic: message.topic,
      recordId: dmRecordId(message.data),
    } as AcceptedDmRecord)
    return TopicValidatorResult.Accept
  }

  #reject(from: string, reason: string): TopicValidatorResult {
    this.#onRejected?.(from, reason)
    return TopicValidatorResult.Reject
  }
}
