/**
 * Double Ratchet sessions with remote devices, both ways (docs/direct-messages.md). The first message to a
 * device is a PQXDH initial message in an `init` record on the recipient's inbox. As in Signal
 * (PreKeySignalMessage), every message of that session is sent this way — the PQXDH header repeated, the
 * payload the next ratchet message — until a message from the responder arrives; the responder answers a new
 * session with an `ack` at once. After that, messages are `msg` records on the pair's topic, which only the two
 * devices can name. One-time prekeys are used only from a bundle heard within `DM_FRESH_BUNDLE_MS` (bundles are
 * broadcast, not handed out once, so a stale one may name a prekey already used).
 */

import { DuplicateMessageError } from '../crypto/errors.ts'
import type { VerifiedKeyBundle } from '../crypto/key-bundle.ts'
import { removeOneTimePrekey } from '../crypto/key-bundle.ts'
import { acceptSession, decodeInitialMessage, initiateSession } from '../crypto/pqxdh.ts'
import { concatBytes, sha256Bytes32 } from '../crypto/primitives.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { describeError, SecureChatError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { DmDeviceResult, PublishedRecord, SessionCertificate } from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import { DM_FRESH_BUNDLE_MS, DM_WIRE_VERSION } from './constants.ts'
import { verifyDeviceBundle } from './device-bundle.ts'
import type { DmTopics } from './dm-topics.ts'
import type { AcceptedDmRecord } from './gatekeeper.ts'
import type { DmSessionStore, RemoteDevice, SessionEntry } from './session-store.ts'
import { inboxId, inboxTopic } from './topics.ts'
import { sessionIdOf } from './wire.ts'

type InitAccepted = Extract<AcceptedDmRecord, { type: 'init' }>
type MsgAccepted = Extract<AcceptedDmRecord, { type: 'msg' | 'signal' }>

/**
 * What became of a record: read (`delivered`), reported unreadable, `seen` before (a record fetched again from a
 * store: not reported), or `ignored` (not for this device).
 */
export type DmOutcome = 'delivered' | 'undecryptable' | 'seen' | 'ignored'

/** How a record reached this device: live gossip, or a relay's store (catch-up). */
export interface DmReceiveOptions {
  fromStore?: boolean
}

export interface DmSessionsComponents {
  topics: DmTopics
  store: DmSessionStore
  keyring: DeviceKeyring
  self: { peerId: string; certificate: SessionCertificate }
  log: Logger
  /** A record decrypted: its plaintext (a DM envelope) from `device`. */
  onPlaintext: (device: RemoteDevice, plaintext: Uint8Array, accepted: AcceptedDmRecord, handshake: boolean) => void
  /** A record from a verified sender that could not be read. */
  onUndecryptable: (accepted: AcceptedDmRecord, err: unknown) => void
  /** One of this device's one-time prekeys was used: its bundle changed. */
  onPrekeyUsed: () => void
  /** The first answer on a session this device started arrived. */
  onEstablished: (device: RemoteDevice) => void
}

export class DmSessions {
  readonly #c: DmSessionsComponents
  #acceptTail: Promise<unknown> = Promise.resolve()

  constructor(components: DmSessionsComponents) {
    this.#c = components
  }

  /** Resolves when every initial message being accepted is done. */
  idle(): Promise<unknown> {
    return this.#acceptTail
  }

  /**
   * Encrypts `plaintext` for `device` on its session (a new one if none can send) and publishes it. `ephemeral`: as a
   * `signal` record, which relays never store, and only on an established session — unless `opensSession`, when with
   * no established session it rides an initial message (which relays keep) as a text would: a call's `here`, so that
   * a call rings a wallet never written to.
   */
  sendTo(device: RemoteDevice, plaintext: Uint8Array, options: DmSendOptions = {}): Promise<DmDeviceResult> {
    return this.#c.store.withDevice(device, async (): Promise<DmDeviceResult> => {
      const target = { address: device.address, peerId: device.peerId }
      try {
        const entry = pickSession(device)
        const established = entry !== undefined && entry[1].initHeader === undefined
        if (options.ephemeral === true && options.opensSession !== true && !established) {
          // A typing indicator never starts a session, nor rides an initial message a relay would keep.
          return { ...target, status: 'failed', handshake: false, recipients: 0, error: 'no established session' }
        }
        if (entry === undefined) return await this.#startSession(device, plaintext)
        const [sid, session] = entry
        const ct = await session.session.encrypt(plaintext)
        session.lastUsedMs = Date.now()
        await this.#c.store.persistDevice(device)
        const sent =
          session.initHeader === undefined
            ? await this.#publishMsg(device, sid, ct, options.ephemeral === true ? 'signal' : 'msg')
            : await this.#publishInit(device, concatBytes(session.initHeader, ct))
        return { ...target, status: 'sent', handshake: session.initHeader !== undefined, ...sent }
      } catch (err) {
        this.#c.log.info('DM not sent to a device', { peer: device.peerId, error: String(err) })
        return { ...target, status: 'failed', handshake: false, recipients: 0, error: describeError(err) }
      }
    })
  }

  /** PQXDH with the device's bundle; the message rides in the initial message on its inbox. */
  async #startSession(device: RemoteDevice, plaintext: Uint8Array): Promise<DmDeviceResult> {
    const bundle = device.bundle
    if (bundle === undefined) {
      return {
        address: device.address,
        peerId: device.peerId,
        status: 'failed',
        handshake: false,
        recipients: 0,
        error: 'no key bundle: the device has not announced itself since its last session was lost',
      }
    }
    const fresh = Date.now() - device.bundleSeenMs < DM_FRESH_BUNDLE_MS
    const usable = (fresh ? bundle : { ...bundle, oneTimePrekeys: [] }) as VerifiedKeyBundle
    const { session, initialMessage } = await initiateSession({
      identityKey: this.#c.keyring.keys.identityKey,
      bundle: usable,
      initiatorId: this.#c.self.peerId,
      responderId: device.peerId,
      plaintext,
    })
    const { header, payload } = decodeInitialMessage(initialMessage)
    const initHeader = initialMessage.slice(0, initialMessage.length - payload.length)
    const sid = sessionIdOf(initHeader)
    // Never pick that one-time prekey again: another session may have used it already.
    if (header.oneTimePrekeyId !== null) {
      const used = header.oneTimePrekeyId
      device.bundle = {
        ...bundle,
        oneTimePrekeys: bundle.oneTimePrekeys.filter((k) => k.id !== used),
      } as VerifiedKeyBundle
    }
    this.#c.store.addSession(device, sid, { session, lastUsedMs: Date.now(), confirmed: false, initHeader })
    await this.#c.store.persistDevice(device)
    const sent = await this.#publishInit(device, initialMessage)
    return { address: device.address, peerId: device.peerId, status: 'sent', handshake: true, ...sent }
  }

  async #publishMsg(
    device: RemoteDevice,
    sid: string,
    ct: Uint8Array,
    type: 'msg' | 'signal' = 'msg',
  ): Promise<Published> {
    const { bytes, recipients } = await this.#c.topics.publish(device.topic, {
      v: DM_WIRE_VERSION,
      type,
      sid,
      cert: this.#c.self.certificate,
      ct: base64urlEncode(ct),
    })
    return { record: bytes, ciphertextHash: sha256Bytes32(ct), recipients }
  }

  async #publishInit(device: RemoteDevice, initialMessage: Uint8Array): Promise<Published> {
    const { bytes, recipients } = await this.#c.topics.publish(inboxTopic(device.address), {
      v: DM_WIRE_VERSION,
      type: 'init',
      inbox: inboxId(device.address),
      to: device.peerId,
      cert: this.#c.self.certificate,
      bundle: this.#c.keyring.bundle,
      msg: base64urlEncode(initialMessage),
    })
    return { record: bytes, ciphertextHash: sha256Bytes32(initialMessage), recipients }
  }

  /** A `msg` record on a pair topic: the next message of a session with that device. */
  async onMsg(accepted: MsgAccepted, options: DmReceiveOptions = {}): Promise<DmOutcome> {
    const device = this.#c.store.byTopic(accepted.topic)
    // Only the two devices of a pair can name its topic; anything else is not for us.
    if (device === undefined || accepted.from !== device.peerId) return 'ignored'
    const ct = base64urlDecode(accepted.record.ct)
    return await this.#c.store.withDevice(device, () =>
      this.#receive(device, accepted.record.sid, ct, accepted, false, options),
    )
  }

  /** A PQXDH initial message for this device: a new session, or the next message of one not yet confirmed. */
  onInit(accepted: InitAccepted, options: DmReceiveOptions = {}): Promise<DmOutcome> {
    const run = this.#acceptTail.then(() => this.#accept(accepted, options))
    this.#acceptTail = run.catch(() => undefined)
    return run
  }

  async #accept(accepted: InitAccepted, options: DmReceiveOptions): Promise<DmOutcome> {
    const { store, keyring, log } = this.#c
    const { record, certificate, from } = accepted
    let initial: ReturnType<typeof decodeInitialMessage>
    let bytes: Uint8Array
    try {
      bytes = base64urlDecode(record.msg)
      initial = decodeInitialMessage(bytes)
    } catch (err) {
      this.#c.onUndecryptable(accepted, err)
      return 'undecryptable'
    }
    const sid = sessionIdOf(bytes.slice(0, bytes.length - initial.payload.length))
    const existing = store.get(from)
    if (existing?.sessions.has(sid) === true) {
      return await store.withDevice(existing, () =>
        this.#receive(existing, sid, initial.payload, accepted, false, options),
      )
    }
    // A session we accepted once and dropped since: the initial message is a replay.
    if (store.seen(sid)) return 'seen'
    const bundle = await verifyDeviceBundle({ peerId: from, text: record.bundle, certificate, log })
    if (bundle === undefined) {
      this.#c.onUndecryptable(accepted, new SecureChatError("the sender's key bundle does not match its certificate"))
      return 'undecryptable'
    }
    let result: Awaited<ReturnType<typeof acceptSession>>
    try {
      result = await acceptSession({
        deviceKeys: keyring.keys,
        initialMessage: bytes,
        initiatorId: from,
        responderId: this.#c.self.peerId,
        expectedInitiatorIdentityKey: bundle.identityKey,
      })
    } catch (err) {
      this.#c.onUndecryptable(accepted, err)
      return 'undecryptable'
    }
    const device = await store.deviceFor(from, certificate, bundle)
    store.heard(device, { bundle, text: record.bundle })
    store.remember(sid)
    await store.withDevice(device, async () => {
      store.addSession(device, sid, {
        session: result.session,
        lastUsedMs: Date.now(),
        confirmed: true,
        initHeader: undefined,
      })
      // Delivered before the session is saved: the save writes the message states first (`session-store.ts`).
      this.#c.onPlaintext(device, result.plaintext, accepted, true)
      await store.persistDevice(device)
      await store.persistSeen()
      // Used up once the session is saved, as libsignal does: a device stopped before this has the session and
      // the prekey (which only a replay, refused as seen, could name again); stopped the other way round, it had
      // neither the session nor the prekey, and every message of the session was unreadable.
      const used = initial.header.oneTimePrekeyId
      if (used !== null) {
        await keyring.update((keys) => removeOneTimePrekey(keys, used))
        this.#c.onPrekeyUsed()
      }
      // From a store, the receipt for what it carried answers instead (one for a whole backlog).
      if (options.fromStore !== true) await this.#ack(device, sid, result.plaintext)
    })
    return 'delivered'
  }

  /** Decrypts a ratchet message of session `sid` from `device` (inside the device's queue). */
  async #receive(
    device: RemoteDevice,
    sid: string,
    ct: Uint8Array,
    accepted: AcceptedDmRecord,
    handshake: boolean,
    options: DmReceiveOptions,
  ): Promise<DmOutcome> {
    const { certificate } = accepted
    if (certificate.address !== device.address || certificate.bundleHash !== device.bundleHash) {
      this.#c.onUndecryptable(
        accepted,
        new SecureChatError("the sender's certificate no longer names the wallet or keys this session was made with"),
      )
      return 'undecryptable'
    }
    const entry = device.sessions.get(sid)
    if (entry === undefined) {
      this.#c.onUndecryptable(
        accepted,
        new SecureChatError('no such session with this device (started with state this device no longer has)'),
      )
      return 'undecryptable'
    }
    let plaintext: Uint8Array
    try {
      plaintext = await entry.session.decrypt(ct)
    } catch (err) {
      // A record read before — fetched again from a store, or re-published by a sender that had no receipt
      // for it — whose id this device no longer remembers: not news.
      if (err instanceof DuplicateMessageError) return 'seen'
      this.#c.onUndecryptable(accepted, err)
      return 'undecryptable'
    }
    const established = !entry.confirmed
    entry.lastUsedMs = Date.now()
    entry.confirmed = true
    entry.initHeader = undefined
    device.lastSeenMs = Date.now()
    if (established) this.#c.onEstablished(device)
    this.#c.onPlaintext(device, plaintext, accepted, handshake)
    // Saved after the message states, soon (an ack, being a send, saves at once).
    this.#c.store.persistSoon(device)
    if (accepted.type === 'init' && options.fromStore !== true) await this.#ack(device, sid, plaintext)
    return 'delivered'
  }

  /** Tells the initiator of session `sid` that it is established (not in answer to an ack). */
  async #ack(device: RemoteDevice, sid: string, answered: Uint8Array): Promise<void> {
    if (isAck(answered)) return
    const entry = device.sessions.get(sid)
    if (entry === undefined) return
    try {
      const ct = await entry.session.encrypt(utf8.encode(JSON.stringify({ v: 1, kind: 'ack' })))
      await this.#c.store.persistDevice(device)
      await this.#publishMsg(device, sid, ct)
    } catch (err) {
      this.#c.log.debug('DM session ack not sent', { peer: device.peerId, error: String(err) })
    }
  }
}

type Published = PublishedRecord & { recipients: number }

/** How {@link DmSessions.sendTo} sends. */
export interface DmSendOptions {
  /** As a `signal` record (never stored), on an established session only. */
  ephemeral?: boolean
  /** With `ephemeral`: when no session is established, start one (or ride the pending one's initial message). */
  opensSession?: boolean
}

/** The session to send on: the most recently used confirmed one, else the newest unconfirmed one. */
function pickSession(device: RemoteDevice): [string, SessionEntry] | undefined {
  const usable = [...device.sessions].filter(([, e]) => e.session.canSend)
  const newest = (entries: Array<[string, SessionEntry]>) =>
    entries.sort((a, b) => b[1].lastUsedMs - a[1].lastUsedMs)[0]
  return newest(usable.filter(([, e]) => e.confirmed)) ?? newest(usable)
}

function isAck(plaintext: Uint8Array): boolean {
  try {
    return (JSON.parse(utf8.decode(plaintext)) as { kind?: unknown }).kind === 'ack'
  } catch {
    return false
  }
}
