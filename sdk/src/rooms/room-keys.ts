import type { PeerId } from '@libp2p/interface'
import {
  JOIN_GRACE_MS,
  LATE_MEMBER_WINDOW_MS,
  MAX_KEY_RECIPIENTS_PER_RECORD,
  MAX_MEMBERS_AWAITING_BUNDLE,
  MAX_RETIRED_CHANNELS,
} from '../constants.ts'
import { SENDER_KEY_MAX_EPOCHS_PER_SENDER, SENDER_KEY_ROTATION_MESSAGES } from '../crypto/constants.ts'
import { ChannelNotFoundError, DuplicateMessageError, SenderKeyNotFoundError } from '../crypto/errors.ts'
import type { DeviceEncryptionKeys, VerifiedKeyBundle } from '../crypto/key-bundle.ts'
import { acceptChannel, type InboundChannel, type OutboundChannel, openChannel } from '../crypto/pairwise-channel.ts'
import { equalBytes, sha256, wipe } from '../crypto/primitives.ts'
import type { SenderKeyDistribution } from '../crypto/sender-keys.ts'
import {
  createInboundSenderKeys,
  createOutboundSenderKey,
  decodeSenderKeyDistribution,
  encodeSenderKeyDistribution,
  type InboundSenderKeys,
  type OutboundSenderKey,
  parseSenderKeyMessage,
} from '../crypto/sender-keys.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { Address, VerifiedCertificate } from '../types.ts'
import { verifyMemberBundle } from './member-bundle.ts'
import { type RoomKeysRecord, roomKeysRecord, type SavedMember, type StoredRoomKeys } from './room-store.ts'
import type { KeyEntry, KeysRecord, MessageRecord } from './wire.ts'

export type { DeviceEncryptionKeys }

interface Member {
  address: Address
  /** As received (base64url) and its certificate's commitment: saved, so a restart seals to it. */
  bundleText: string
  bundleHash: string
  bundle: VerifiedKeyBundle
  /** Our epoch this member holds, once we sent it. */
  sentEpoch: number | undefined
  /** Our end of the pairwise channel to this member, once we opened one (memory only). */
  channel: OutboundChannel | undefined
  /**
   * Where this member reads us from, oldest epoch first, until sealed to it: our chain as it was when the room
   * counted it, before its bundle was here ({@link RoomKeys.expectMember}), and the start of each epoch since.
   */
  owed: SenderKeyDistribution[]
  /**
   * The iteration of our current epoch it was sealed from (a key of {@link RoomKeys}'s sealed states): a `want` is
   * answered from there again, not from where our chain is by then.
   */
  sealedFrom: number | undefined
}

/**
 * The sender-key side of one room (docs/architecture.md, Encryption): our outbound chain, every member's
 * inbound chain, and the distribution of our chain key to each member over a pairwise channel
 * (`crypto/pairwise-channel.ts`) bound to both PeerIds, their bundles and the room. Relays and
 * non-members see ciphertext.
 *
 * Channels: the first distribution to a member opens a channel with a hybrid X-Wing seal
 * (`sealed` entry); every later one, each rotation, is the channel's next HKDF step (`wrapped`
 * entry, symmetric crypto only). Our ends live in memory: a restart opens new channels. A member's
 * end is saved with its chains. A member that cannot open a wrapped entry (it lost the channel:
 * restarted without its vault entry, missed the opening) asks with presence `want`, the same request
 * as for a missed key, and {@link resend} drops our channel to it, so the answer is a new opening.
 * A removed member's channel goes with it; a member's bundle never changes under one PeerId here
 * (a new device is a new PeerId, hence a new channel).
 *
 * With a vault, the other members' chains persist (`room-store.ts`), saved after delivery and
 * saved with the room's message states and position as one entry (`MESSAGE_STATES_SAVE_DELAY_MS`); a chain
 * just installed is saved before the first message read with it is returned, so a restart still reads what follows.
 * Our own chain is never stored: a restart starts a new epoch and seals it to the members again,
 * so no key it used can be reused. The members themselves (their bundles, and since when each is
 * absent) are saved with the chains, so that restart seals it to every member it sealed to
 * before, absent ones included, not only to those it hears again.
 */
export class RoomKeys {
  readonly #roomId: string
  readonly #self: string
  readonly #device: DeviceEncryptionKeys
  readonly #log: Logger
  readonly #outbound: OutboundSenderKey
  readonly #inbound: InboundSenderKeys
  readonly #members = new Map<string, Member>()
  /** The receiving ends of the members' channels to us, by sender PeerId (saved with the chains). */
  readonly #channels: Map<string, InboundChannel>
  /**
   * Each sender's channels that later openings replaced, newest last, at most {@link MAX_RETIRED_CHANNELS}, in
   * memory only: an entry wrapped on one that arrives after the new opening (a distribution lost on its way and
   * re-published once the stores lacked it, while the sender had meanwhile answered our `want`s with new openings)
   * still opens. They only open what that sender wrapped on them already; it wraps nothing new on them.
   */
  readonly #retiredChannels = new Map<string, InboundChannel[]>()
  /**
   * Our first epoch's key as it was before our first message, kept for {@link JOIN_GRACE_MS}
   * after joining: members already in the room whose presence reaches us late (a busy
   * network) can still read our first messages. Wiped after the grace period or on rotation.
   */
  #joinDistribution: SenderKeyDistribution | undefined
  readonly #joinedAtMs: number
  /**
   * Members the room counts whose bundle has not arrived: where each reads us from ({@link expectMember}), moved
   * to the member once its bundle verifies.
   */
  readonly #awaitingBundle = new Map<string, SenderKeyDistribution[]>()
  /**
   * Our current epoch's states that members were sealed from, by iteration (memory only, wiped on rotation): a member
   * that asks again (`want`: the record was lost on its way — dropped by a relay that did not know our certificate
   * yet, or by a link that went down — or it restarted without its vault) gets the same state again, so it reads
   * what we sent since it was counted. Answered from our chain as it is by then, what we sent in between stayed
   * unreadable to it unless a relay's store kept the first record (test/relay-network.test.ts, relays without a
   * store). The sender reads its own messages anyway; a stolen state opens this epoch's messages since it, at most
   * `SENDER_KEY_ROTATION_MESSAGES` of them.
   */
  readonly #sealedStates = new Map<number, SenderKeyDistribution>()
  /**
   * Our current epoch's state before each message we sent in the last {@link LATE_MEMBER_WINDOW_MS}, oldest first
   * (memory only, wiped on rotation): a member whose presence reaches us after we sent reads from its join on
   * ({@link expectMember}).
   */
  readonly #recentStates: Array<{ sentAtMs: number; keptAtMs: number; state: SenderKeyDistribution }> = []
  /**
   * Saves the inbound chains (the room's, with its message states: `room-store.ts`); `installed`: a chain was just
   * installed, saved at once. Undefined without a vault and once {@link detach}ed.
   */
  #saveWith: ((options: { installed?: boolean }) => Promise<void>) | undefined
  /** The save of a chain just installed: messages read with it wait for it. */
  #installSaved: Promise<void> | undefined
  /** Since when a member is absent (the room's `AbsentMembers`), saved with it. */
  readonly #absentSince: (peerId: string) => number | undefined

  /**
   * `stored`: the state saved in `vault` by an earlier run (`loadRoomKeys`): the members' chains
   * we held stay readable. Our own epoch is new either way.
   */
  constructor(init: {
    roomId: string
    selfPeerId: string
    device: DeviceEncryptionKeys
    log: Logger
    save?: (options: { installed?: boolean }) => Promise<void>
    stored?: StoredRoomKeys
    absentSince?: (peerId: string) => number | undefined
  }) {
    this.#roomId = init.roomId
    this.#self = init.selfPeerId
    this.#device = init.device
    this.#log = init.log
    this.#saveWith = init.save
    this.#outbound = createOutboundSenderKey({ roomId: init.roomId, senderId: init.selfPeerId })
    this.#inbound = init.stored?.inbound ?? createInboundSenderKeys({ roomId: init.roomId })
    this.#channels = init.stored?.channels ?? new Map()
    this.#absentSince = init.absentSince ?? (() => undefined)
    for (const saved of init.stored?.members ?? []) {
      if (saved.peer === this.#self) continue
      this.#members.set(saved.peer, {
        address: saved.address,
        bundleText: saved.bundle,
        bundleHash: saved.bundleHash,
        bundle: saved.verified,
        sentEpoch: undefined,
        channel: undefined,
        owed: [],
        sealedFrom: undefined,
      })
    }
    // Members reached late read from here on (kept in memory only; see #joinDistribution).
    this.#joinDistribution = this.#outbound.exportForMember()
    this.#joinedAtMs = Date.now()
  }

  get epoch(): number {
    return this.#outbound.epoch
  }

  /** Members whose bundle we verified, so we can share keys with them. */
  get memberIds(): string[] {
    return [...this.#members.keys()]
  }

  /**
   * Accepts a member's key bundle when its PeerId signed it and the member's certificate
   * commits to its hash (so no relay can swap keys). Returns false when it does not verify.
   */
  async addMember(peerId: string, bundleText: string, certificate: VerifiedCertificate): Promise<boolean> {
    if (peerId === this.#self) return false
    const known = this.#members.get(peerId)
    if (known !== undefined) return true
    const bundleHash = certificate.bundleHash
    if (bundleHash === undefined) return false
    try {
      const verified = await verifyMemberBundle(peerId, bundleText, bundleHash)
      // Added while this one verified (two presences of a newcomer, each fetching its bundle): that one took what
      // it is owed; a second entry would replace it with nothing owed, and the newcomer could not read what was
      // sent while its bundle was on its way.
      if (this.#members.has(peerId)) return true
      this.#members.set(peerId, {
        address: certificate.address,
        bundleText,
        bundleHash,
        bundle: verified,
        sentEpoch: undefined,
        channel: undefined,
        owed: this.#awaitingBundle.get(peerId) ?? [],
        sealedFrom: undefined,
      })
      this.#awaitingBundle.delete(peerId)
      this.#save()
      return true
    } catch (err) {
      this.#log.info('key bundle refused', { room: this.#roomId, peer: peerId, error: String(err) })
      return false
    }
  }

  /**
   * The room counts `peerId` as a member from now on (its presence arrived) but its bundle is not here yet, so
   * nothing can be sealed to it: keeps our chain as it was at `sinceMs` (when its presence was signed; now when not
   * given), and the keys sealed once the bundle arrives start there. So it reads every message we sent since it
   * joined, those sent before its presence reached us (within {@link LATE_MEMBER_WINDOW_MS}) and while its bundle was
   * on its way included. What was sent before stays unreadable to it (the state derives only later keys). Kept in
   * memory until sealed, the member removed, or {@link forgetExpected}.
   */
  expectMember(peerId: string, sinceMs?: number): void {
    if (peerId === this.#self || this.#members.has(peerId) || this.#awaitingBundle.has(peerId)) return
    if (this.#awaitingBundle.size >= MAX_MEMBERS_AWAITING_BUNDLE) return
    const kept = this.#stateSince(sinceMs)
    this.#log.debug('member expected', {
      room: this.#roomId,
      peer: peerId,
      epoch: kept.epoch,
      iteration: kept.iteration,
    })
    this.#awaitingBundle.set(peerId, [kept])
  }

  /**
   * A copy of our chain's state before our first message stamped at or after `sinceMs` (its `sentAtMs`, the device's
   * clock the member's presence is stamped with too) in the window, else now.
   */
  #stateSince(sinceMs: number | undefined): SenderKeyDistribution {
    this.#pruneRecentStates()
    const first = sinceMs === undefined ? undefined : this.#recentStates.find((s) => s.sentAtMs >= sinceMs)
    if (first === undefined) return this.#outbound.exportForMember()
    return { ...first.state, chainKey: first.state.chainKey.slice() }
  }

  #pruneRecentStates(): void {
    // The window on the process clock: a device clock set wrong shifts the stamps, not what is kept.
    const oldest = Date.now() - LATE_MEMBER_WINDOW_MS
    while (
      this.#recentStates.length > 0 &&
      (this.#recentStates[0]!.keptAtMs < oldest || this.#recentStates.length > SENDER_KEY_ROTATION_MESSAGES)
    ) {
      wipe(this.#recentStates.shift()!.state.chainKey)
    }
  }

  /** It went away before its bundle came: what {@link expectMember} kept for it goes (it reads from a later sealing). */
  forgetExpected(peerId: string): void {
    if (this.#awaitingBundle.has(peerId))
      this.#log.debug('member no longer expected', { room: this.#roomId, peer: peerId })
    wipeAll(this.#awaitingBundle.get(peerId))
    this.#awaitingBundle.delete(peerId)
  }

  /** Forgets a member and starts a new epoch, so it cannot read what follows. */
  removeMember(peerId: string): void {
    this.forgetExpected(peerId)
    const member = this.#members.get(peerId)
    if (member === undefined) return
    this.#members.delete(peerId)
    wipeAll(member.owed)
    member.channel?.dispose()
    this.#inbound.forgetSender(peerId)
    this.#channels.get(peerId)?.dispose()
    this.#channels.delete(peerId)
    for (const channel of this.#retiredChannels.get(peerId) ?? []) channel.dispose()
    this.#retiredChannels.delete(peerId)
    this.#save()
    this.rotate()
  }

  /**
   * Starts a new epoch when the current one is due (`SENDER_KEY_ROTATION_MESSAGES` /
   * `SENDER_KEY_ROTATION_MS`). Call before encrypting, then distribute: members must get the
   * new epoch from its first message. Returns whether it rotated.
   */
  rotateIfDue(): boolean {
    if (!this.#outbound.needsRotation()) return false
    this.rotate()
    return true
  }

  /** A new epoch for our messages; every member gets it on the next distribution. */
  rotate(): void {
    this.#dropJoinDistribution()
    const start = this.#outbound.rotate()
    // A member still owed an earlier state is owed this whole epoch too (it was counted before it began).
    const owing = [...this.#awaitingBundle.values(), ...[...this.#members.values()].map((m) => m.owed)]
    for (const owed of owing) {
      if (owed.length === 0) continue
      owed.push({ ...start, chainKey: start.chainKey.slice() })
      // The receiver keeps no more epochs of a sender than this: older ones would be evicted on arrival.
      while (owed.length > SENDER_KEY_MAX_EPOCHS_PER_SENDER) wipeAll(owed.splice(0, 1))
    }
    wipe(start.chainKey)
    for (const member of this.#members.values()) {
      member.sentEpoch = undefined
      member.sealedFrom = undefined
    }
    wipeAll([...this.#sealedStates.values()])
    this.#sealedStates.clear()
    wipeAll(this.#recentStates.splice(0).map((s) => s.state))
  }

  #dropJoinDistribution(): void {
    if (this.#joinDistribution === undefined) return
    wipe(this.#joinDistribution.chainKey)
    this.#joinDistribution = undefined
  }

  /**
   * Asked again by a member that cannot read us (it missed our distribution, or cannot open our
   * channel): the next distribution opens a new channel to it, from where this epoch was first sealed to it.
   */
  resend(peerId: string): void {
    const member = this.#members.get(peerId)
    if (member === undefined) return
    member.sentEpoch = undefined
    member.channel?.dispose()
    member.channel = undefined
  }

  /** Whether some member lacks our current epoch ({@link distributions} has work). */
  get distributionDue(): boolean {
    for (const member of this.#members.values()) if (member.sentEpoch !== this.#outbound.epoch) return true
    return false
  }

  /**
   * Keys records for every eligible member that lacks our current epoch (empty when none does): each from where it
   * was sealed this epoch before (it asked again: {@link resend}), else from where it is owed ({@link expectMember}),
   * else from the join grace's start, else from now. Earlier epochs a member is
   * still owed go first, in their own records, so its channel's steps arrive in the order they were taken.
   */
  async distributions(eligible: (peerId: string) => Promise<boolean> = async () => true): Promise<KeysRecord[]> {
    const lacking = [...this.#members].filter(([, m]) => m.sentEpoch !== this.#outbound.epoch)
    const allowed = await Promise.all(lacking.map(([peer]) => eligible(peer)))
    const pending = lacking.filter((_, i) => allowed[i])
    if (pending.length === 0) return []
    if (Date.now() - this.#joinedAtMs > JOIN_GRACE_MS) this.#dropJoinDistribution()
    const epoch = this.#outbound.epoch
    const exported = this.#joinDistribution === undefined ? this.#outbound.exportForMember() : undefined
    const now = this.#joinDistribution ?? exported!
    const current = encodeSenderKeyDistribution(now)
    const perMember = await Promise.all(
      pending.map(async ([peer, member]) => {
        const owed = member.owed.splice(0)
        const earlier = owed.filter((d) => d.epoch !== epoch)
        const again = member.sealedFrom === undefined ? undefined : this.#sealedStates.get(member.sealedFrom)
        const owedNow =
          again === undefined && this.#joinDistribution === undefined ? owed.find((d) => d.epoch === epoch) : undefined
        const from = again ?? owedNow ?? now
        this.#keepSealed(from)
        member.sealedFrom = from.iteration
        const plaintexts = [
          ...earlier.map((d) => ({ epoch: d.epoch, bytes: encodeSenderKeyDistribution(d) })),
          { epoch, bytes: from === now ? current : encodeSenderKeyDistribution(from) },
        ]
        wipeAll(owed)
        this.#log.debug('sender key sealed', {
          room: this.#roomId,
          to: peer,
          epoch,
          owed: owed.map((d) => `${d.epoch}:${d.iteration}`),
        })
        const entries: Array<{ epoch: number; entry: KeyEntry }> = []
        // In order: each entry is the channel's next step.
        for (const plaintext of plaintexts) {
          entries.push({ epoch: plaintext.epoch, entry: await this.#seal(peer, member, plaintext.bytes) })
          if (plaintext.bytes !== current) wipe(plaintext.bytes)
        }
        member.sentEpoch = epoch
        return entries
      }),
    )
    wipe(current)
    if (exported !== undefined) wipe(exported.chainKey)
    this.#dropUnsealedStates()
    const byEpoch = new Map<number, KeyEntry[]>()
    for (const { epoch: e, entry } of perMember.flat()) byEpoch.set(e, [...(byEpoch.get(e) ?? []), entry])
    // Oldest first (epochs count up, wrapping at 2^32): the current one last.
    const epochs = [...byEpoch.keys()].sort((x, y) => ((epoch - y) >>> 0) - ((epoch - x) >>> 0))
    const records: KeysRecord[] = []
    for (const e of epochs) {
      const entries = byEpoch.get(e) ?? []
      for (let i = 0; i < entries.length; i += MAX_KEY_RECIPIENTS_PER_RECORD) {
        records.push({
          v: 1,
          type: 'keys',
          room: this.#roomId,
          epoch: e,
          to: entries.slice(i, i + MAX_KEY_RECIPIENTS_PER_RECORD),
        })
      }
    }
    return records
  }

  /** Keeps a copy of `state` (of our current epoch) for members sealed from it. */
  #keepSealed(state: SenderKeyDistribution): void {
    if (this.#sealedStates.has(state.iteration)) return
    this.#sealedStates.set(state.iteration, { ...state, chainKey: state.chainKey.slice() })
  }

  /** States no member was sealed from any more (each member moves on only to a later one, or is removed). */
  #dropUnsealedStates(): void {
    const used = new Set<number | undefined>([...this.#members.values()].map((m) => m.sealedFrom))
    for (const [iteration, state] of this.#sealedStates) {
      if (used.has(iteration)) continue
      wipe(state.chainKey)
      this.#sealedStates.delete(iteration)
    }
  }

  /** One entry to `member`: the next step of our channel to it, or a new opening when we hold none. */
  async #seal(peer: string, member: Member, distribution: Uint8Array): Promise<KeyEntry> {
    const channel = member.channel
    if (channel?.usable === true) return { peer, wrapped: base64urlEncode(await channel.wrap(distribution)) }
    const opened = await openChannel({
      senderId: this.#self,
      recipientId: peer,
      context: distributionContext(this.#roomId),
      senderIdentityKey: this.#device.identityKey,
      recipientIdentityKey: member.bundle.identityKey,
      recipientKemKey: member.bundle.kemKey,
      plaintext: distribution,
    })
    channel?.dispose()
    member.channel = opened.channel
    return { peer, sealed: base64urlEncode(opened.opening) }
  }

  /**
   * Installs the sender key that `from` sent us, if the record has one. Returns `installed`,
   * `not-for-us`, `unknown-sender` (its bundle has not arrived: hold the record), `no-channel`
   * (wrapped on a channel we do not hold: ask `from` to send again) or `invalid`.
   */
  async receive(
    from: string,
    record: KeysRecord,
  ): Promise<'installed' | 'not-for-us' | 'unknown-sender' | 'no-channel' | 'invalid'> {
    const entry = record.to.find((e) => e.peer === this.#self)
    if (entry === undefined) return 'not-for-us'
    const member = this.#members.get(from)
    if (member === undefined) return 'unknown-sender'
    const binding = { senderId: from, recipientId: this.#self, context: distributionContext(this.#roomId) }
    try {
      let plaintext: Uint8Array
      if ('sealed' in entry) {
        const accepted = await acceptChannel({
          ...binding,
          recipientIdentityKey: this.#device.identityKey,
          recipientKemKey: this.#device.kemKey,
          senderIdentityKey: member.bundle.identityKey,
          opening: base64urlDecode(entry.sealed),
        })
        const replaced = this.#channels.get(from)
        if (replaced !== undefined && !equalBytes(replaced.id, accepted.channel.id)) {
          const retired = this.#retiredChannels.get(from) ?? []
          retired.push(replaced)
          while (retired.length > MAX_RETIRED_CHANNELS) retired.shift()?.dispose()
          this.#retiredChannels.set(from, retired)
        } else replaced?.dispose()
        this.#channels.set(from, accepted.channel)
        plaintext = accepted.plaintext
      } else {
        const wrapped = base64urlDecode(entry.wrapped)
        const unwrap = (channel: InboundChannel | undefined): Promise<Uint8Array> =>
          channel === undefined ? Promise.reject(new ChannelNotFoundError()) : channel.unwrap({ binding, wrapped })
        // The current channel first, then the retired ones, newest first: the entry names its channel.
        const channels = [this.#channels.get(from), ...(this.#retiredChannels.get(from) ?? []).toReversed()]
        let opened: Uint8Array | undefined
        for (const channel of channels) {
          opened = await unwrap(channel).catch((err: unknown) => {
            if (err instanceof ChannelNotFoundError) return undefined
            throw err
          })
          if (opened !== undefined) break
        }
        if (opened === undefined) throw new ChannelNotFoundError()
        plaintext = opened
      }
      const distribution = decodeSenderKeyDistribution(plaintext)
      this.#log.debug('sender key received', {
        room: this.#roomId,
        from,
        epoch: distribution.epoch,
        iteration: distribution.iteration,
        sealed: 'sealed' in entry,
      })
      if (this.#inbound.install({ distribution, from })) {
        // At once, not coalesced: a restart that lost this chain could not read what follows.
        const saved = this.#save({ installed: true })
        this.#installSaved = saved
        void saved.finally(() => {
          if (this.#installSaved === saved) this.#installSaved = undefined
        })
      } else {
        // The channel moved on: a state a step behind still opens the next entry, so coalesced.
        this.#save()
      }
      return 'installed'
    } catch (err) {
      if (err instanceof ChannelNotFoundError) return 'no-channel'
      this.#log.info('sender key refused', { room: this.#roomId, from, error: String(err) })
      return 'invalid'
    }
  }

  /** Encrypts an envelope; `header` fields outside the ciphertext are bound as associated data. */
  async encrypt(envelope: Uint8Array, header: OuterHeader): Promise<string> {
    this.#recentStates.push({
      sentAtMs: header.sentAtMs,
      keptAtMs: Date.now(),
      state: this.#outbound.exportForMember(),
    })
    this.#pruneRecentStates()
    const ciphertext = await this.#outbound.encrypt({ plaintext: envelope, messageId: headerDigest(header) })
    return base64urlEncode(ciphertext)
  }

  /**
   * Decrypts; throws `SenderKeyNotFoundError` while the sender's key has not arrived. The
   * advanced chain is saved after this returns (coalesced), not before.
   */
  async decrypt(from: string, ciphertext: string, header: OuterHeader): Promise<Uint8Array> {
    if (this.#installSaved !== undefined) await this.#installSaved
    const plaintext = await this.#inbound.decrypt({
      senderId: from,
      message: base64urlDecode(ciphertext),
      messageId: headerDigest(header),
    })
    this.#save()
    return plaintext
  }

  /**
   * Schedules no more saves (the room stopped). A save already scheduled still runs when the
   * vault's delay ends, on `Vault.flush` or `close`, unless the room's keys are deleted first.
   */
  detach(): void {
    this.#saveWith = undefined
  }

  /** The inbound chains as they are now, as the vault keeps them. Secret. */
  record(): RoomKeysRecord {
    return roomKeysRecord({ inbound: this.#inbound, channels: this.#channels, members: () => this.#savedMembers() })
  }

  /** Saves the inbound chains; never rejects (a failed save is logged). */
  #save(options: { installed?: boolean } = {}): Promise<void> {
    if (this.#saveWith === undefined) return Promise.resolve()
    return this.#saveWith(options).catch((err: unknown) =>
      // Reading goes on; the vault holds the older chains until a later save succeeds.
      this.#log.warn('room sender keys not saved to the vault', { room: this.#roomId, error: String(err) }),
    )
  }

  #savedMembers(): SavedMember[] {
    return [...this.#members].map(([peer, member]) => {
      const absentSinceMs = this.#absentSince(peer)
      return {
        peer,
        address: member.address,
        bundle: member.bundleText,
        bundleHash: member.bundleHash,
        ...(absentSinceMs === undefined ? {} : { absentSinceMs }),
      }
    })
  }

  /** True when the sender key `ciphertext` was sealed under (its header's epoch) is installed for `from`. */
  hasKeyFor(from: string, ciphertext: string): boolean {
    try {
      const { epoch } = parseSenderKeyMessage(base64urlDecode(ciphertext)).header
      return this.#inbound.epochs(from).includes(epoch)
    } catch {
      return false
    }
  }

  /** True when a member's bundle is known (keys can be exchanged with it). */
  hasMember(peerId: string | PeerId): boolean {
    return this.#members.has(peerId.toString())
  }
}

export type OuterHeader = Pick<MessageRecord, 'room' | 'lamport' | 'deps' | 'sentAtMs'>

/**
 * The record fields outside the ciphertext, hashed into its associated data: SHA-256 of the
 * canonical JSON of `{ room, lamport, deps, sentAtMs }`, written out in its key order (the same
 * bytes as `canonicalJson`, without sorting keys for every message).
 */
export function headerDigest(header: OuterHeader): Uint8Array {
  const { room, lamport, deps, sentAtMs } = header
  if (!Number.isSafeInteger(lamport) || !Number.isSafeInteger(sentAtMs)) {
    throw new TypeError('canonicalJson: only safe integers in a record header')
  }
  return sha256(
    utf8.encode(
      `{"deps":${JSON.stringify(deps)},"lamport":${lamport},"room":${JSON.stringify(room)},"sentAtMs":${sentAtMs}}`,
    ),
  )
}

function wipeAll(distributions: SenderKeyDistribution[] | undefined): void {
  for (const d of distributions ?? []) wipe(d.chainKey)
}

function distributionContext(roomId: string): string {
  return `sender-key-channel:${roomId}`
}

export function isMissingKey(err: unknown): boolean {
  return err instanceof SenderKeyNotFoundError
}

/**
 * A message from before the iteration its sender's chain was installed from here (the answer to
 * a `want`, or a late seal): only the epoch's earlier distribution, which a store may hold, reads it.
 */
export function isBeforeChainStart(err: unknown): boolean {
  return err instanceof DuplicateMessageError && err.details.beforeStart === true
}
