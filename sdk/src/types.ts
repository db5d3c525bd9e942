/**
 * Types shared by the sdk's entry points and the apps (node/, web/). Types only: no values.
 */
import type { SignedMessage } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

export interface AbortOptions {
  signal?: AbortSignal
}

/** An EIP-55 checksummed Ethereum address. */
export type Address = `0x${string}`

/**
 * What the sdk needs from a wallet: its address and EIP-191 `personal_sign`.
 * Implementations: `walletSigner` (ethers signers: CLI, bots, tests) and `eip1193Signer`
 * (MetaMask and any EIP-1193 provider), in `@securechat/sdk/identity`.
 */
export interface WalletSigner {
  getAddress(options?: AbortOptions): Promise<Address>
  signMessage(message: string, options?: AbortOptions): Promise<string>
}

/** EIP-1193 provider: `window.ethereum`, an EIP-6963 announced provider, or a test stand-in. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>
}

/** 32 bytes as 0x-prefixed lowercase hex. */
export type Bytes32 = `0x${string}`

/** A wallet's signed authorisation of one device's PeerId (docs/architecture.md, Identity). */
export interface SessionCertificate {
  /** The EIP-4361 message text the wallet signed. */
  message: string
  /** The EIP-191 signature, 0x-prefixed hex. */
  signature: string
}

/** A certificate that passed every check, with the facts receivers act on. */
export interface VerifiedCertificate {
  address: Address
  peerId: string
  domain: string
  chainId: number
  issuedAtMs: number
  notBeforeMs: number | undefined
  expiresAtMs: number
  /** Hash of the device's encryption key bundle, when the certificate commits to one. */
  bundleHash: string | undefined
  /** sha256 of the certificate (message and signature), hex: its cache key. */
  hash: string
  /** How the signature was checked. */
  signatureType: 'eoa' | 'erc1271'
}

/** A message in a room, after its record and sender passed validation. */
export interface RoomMessage {
  roomId: string
  /** sha256 of the record bytes as received, hex: the same on every peer. */
  id: string
  /** Wallet that authorised the sending device. */
  sender: Address
  senderPeerId: string
  kind: 'text'
  text: string
  /** Message this one replies to, if any. */
  parentId: string | undefined
  /** The members it mentions (`@0x…` in its text, listed in its envelope: `mentions.ts`), checksummed. */
  mentions: Address[]
  /** The file it shares, its `text` the caption (`@securechat/sdk/files` fetches it); none once deleted. */
  file?: FileManifest
  /** Sender's clock when it sent, ms since the epoch (not trusted for ordering). */
  sentAtMs: number
  lamport: number
  /** Ids of the last messages the sender had seen (causal history). */
  deps: string[]
  /**
   * A late arrival (another path, a gap filled, a catch-up after a failover): the id of the first message delivered
   * before it here that names it as earlier. A list shows it before that one, not last.
   */
  before: string | undefined
  receivedAtMs: number
  /**
   * The record's bytes as published (UTF-8 JSON, the ciphertext inside): what `id` hashes and what an audit
   * leaf commits to (`leafOfRecord` in `@securechat/sdk/audit`).
   */
  record: Uint8Array
  /** sha256 of the ciphertext inside the record: with the id, sender and `sentAtMs`, its audit leaf. */
  ciphertextHash: Bytes32
}

/**
 * A shared file, as the message that shares it carries it (inside the message's encryption; `files/manifest.ts`
 * checks it): all a receiver needs to fetch, decrypt and check the file.
 */
export interface FileManifest {
  /** The manifest's format version (`FILE_MANIFEST_VERSION` in `files/manifest.ts`). */
  readonly v: 1
  /** The ciphertext's UnixFS root: CIDv1, sha2-256, dag-pb (or raw for a file of one block), base32 as Helia prints it. */
  readonly cid: string
  /** Plaintext bytes. */
  readonly size: number
  /** The media type the sender gave (`type/subtype`, parameters allowed); a hint for display, never trusted. */
  readonly type: string
  /** The file's name as the sender gave it: no path, no control characters, at most 255 bytes of UTF-8. */
  readonly name: string
  /** The file key (32 bytes), unpadded base64url. Whoever holds the manifest can read the file. */
  readonly key: string
  /** SHA-256 of the plaintext, lowercase hex: checked when a download ends. */
  readonly sha256: string
  /** A small picture of the file, made by the sender (`files/thumbnail.ts`): shown before, or without, fetching it. */
  readonly thumbnail?: FileThumbnail
  /**
   * In a room message: the salt (32 bytes, lowercase hex) of the file commitment its record carries,
   * `sha256(salt ‖ sha256(file))` (`files/commitment.ts`), which a member discloses to prove the file was shared.
   */
  readonly salt?: string
}

/**
 * A file's thumbnail as its manifest carries it. Checked like the manifest, with its dimensions read from the
 * image's header; on arrival a bad one is dropped and the file kept (`receivedFileManifestSchema`).
 */
export interface FileThumbnail {
  /** The image's type: one a browser decodes and a canvas encodes. */
  readonly type: 'image/jpeg' | 'image/webp' | 'image/png'
  /** The image, at most `MAX_THUMBNAIL_BYTES` (16 KiB), unpadded base64url. */
  readonly data: string
  /** Its size in pixels, as its header says: each 1 … `MAX_THUMBNAIL_SIDE` (320). */
  readonly width: number
  readonly height: number
}

// --- Message kinds beyond text: replies, reactions, edits and deletes (`message-state.ts`), rooms and DMs alike.

/** One version of a message's text: the original (`id` the message's own), then each edit (`id` the edit's). */
export interface MessageVersion {
  id: string
  body: string
  /** The members this version mentions; absent when none. */
  mentions?: Address[]
  /** The sender's clock when it wrote this version. */
  atMs: number
}

/** One emoji on a message: how many wallets reacted with it, and which (a wallet counts once). */
export interface MessageReaction {
  emoji: string
  count: number
  by: Address[]
}

/** The replies to a thread's root: how many, and the latest (by its sender's clock). */
export interface ThreadSummary {
  count: number
  last: { id: string; sender: Address; sentAtMs: number } | undefined
}

/**
 * A message as this device knows it now, its reactions, edits, delete and replies folded in. A deleted message
 * keeps no text: `text` is undefined and `versions` empty.
 */
export interface MessageState {
  id: string
  /** The wallet that wrote it: the only one whose edit or delete of it counts. */
  sender: Address
  sentAtMs: number
  parentId: string | undefined
  /** The root of the thread it is in (its parent's root, or its parent): undefined for a message that is no reply. */
  threadRootId: string | undefined
  /** The latest version's text; undefined once deleted. */
  text: string | undefined
  /** The members the latest version mentions (an edit's replace the original's); none once deleted. */
  mentions: Address[]
  /** The file it shares (an edit changes only its caption, `text`); dropped, key and all, once deleted. */
  file?: FileManifest
  edited: boolean
  /** Oldest first: the original, then each edit. */
  versions: MessageVersion[]
  deleted: boolean
  /** Deleted by a moderator (`remove`), not by its sender: that moderator's wallet; show "removed by a moderator". */
  removedBy?: Address
  reactions: MessageReaction[]
  thread: ThreadSummary
}

/** What a reaction, edit, delete or reply does to the message it names. */
export type MessageEdit =
  | { kind: 'react'; emoji: string; remove: boolean }
  | { kind: 'edit'; body: string; mentions?: Address[] }
  /**
   * A delete: by the message's own wallet (`sender`), or — `author` set — by a moderator (`sender`) whose `remove` event
   * named the message's author (docs/architecture.md, Moderation): it counts only if `author` is the message's.
   */
  | { kind: 'delete'; author?: Address }
  /** A reply (`id`) joined the thread whose root is `target`. */
  | { kind: 'reply' }

/**
 * A change to message `target`, as received or sent: `id` is its own record's id (a room) or envelope id (a DM),
 * `sender` the wallet that made it.
 */
export type MessageChange = MessageEdit & {
  id: string
  target: string
  sender: Address
  senderPeerId: string
  sentAtMs: number
}

/**
 * A message's state changed (`message:updated`): a reaction, edit, delete or reply was applied — as it arrived, or
 * when the message it names arrived (history catch-up can deliver them in any order).
 */
export interface MessageUpdate {
  change: MessageChange
  message: MessageState
}

/** `message:updated` of a room. */
export interface RoomMessageUpdate extends MessageUpdate {
  roomId: string
}

/** `message:updated` of the DMs and a conversation. */
export interface DmMessageUpdate extends MessageUpdate {
  /** The other wallet of the conversation. */
  conversation: Address
}

/**
 * A reaction, edit or delete as its record arrived in a room (`change:received`), before it is checked against
 * the message it names: its record and ciphertext hash, what an audit transcript keeps of it (as of a text).
 */
export interface RoomChangeRecord extends PublishedRecord {
  roomId: string
  change: MessageChange
  lamport: number
  deps: string[]
  receivedAtMs: number
}

/**
 * A change of a conversation's disappearing-messages timer (`disappearing.ts`): who set it, when by the sender's
 * clock, and to what, in seconds (0: off).
 */
export interface TimerChange {
  /** A DM's: its record's id; a room's: its moderation event's hash. */
  id: string
  sender: Address
  /** The device that sent a DM's; empty for a room's, which the owner's wallet signed (the log names no device). */
  senderPeerId: string
  sentAtMs: number
  seconds: number
}

/** `timer:changed` of a room: the timer now in force (`change`), set by its owner in the moderation log. */
export interface RoomTimerUpdate {
  roomId: string
  change: TimerChange
}

/** `timer:changed` of the DMs and a conversation. */
export interface DmTimerUpdate {
  conversation: Address
  change: TimerChange
}

/**
 * A DM's timer change this device refused (`timer:refused`): not a wallet of the conversation. A room's refused
 * change is a refused moderation event, never kept.
 */
export interface RefusedTimer {
  change: TimerChange
  reason: string
}

/** `message:expired` of a room: messages past their disappearing timer, gone from this device (its vault too). */
export interface RoomExpiry {
  roomId: string
  ids: string[]
}

/** `message:expired` of the DMs and a conversation. */
export interface DmExpiry {
  conversation: Address
  ids: string[]
}

/** A reaction, edit or delete this device refused (`change:refused`): someone else's message, or too many. */
export interface RefusedChange {
  change: MessageChange
  reason: string
}

export interface RoomMember {
  address: Address
  peerId: string
  lastSeenMs: number
}

/**
 * A wallet the room no longer counts as a member (`member:removed`), and why: its moderators banned or kicked it, a
 * lock left it out, or it fails the room's token gate (its token moved, or the owner changed the gate).
 */
export interface RoomMemberRemoved {
  address: Address
  reason: 'ban' | 'kick' | 'lock' | 'gate'
}

/**
 * What `send` resolves to, in a room and in a DM alike (`send(text, { parentId?, signal? })`): the message's id
 * and stated send time, and where it went. A fan-out reports who got the record and who did not; it never
 * throws for a recipient that could not be reached.
 */
export interface SendResult<Delivery> {
  /** What every receiver's `message:received` carries as `id`. */
  id: string
  /** The send time the message states (`sentAtMs` on every receiver). */
  sentAtMs: number
  delivery: Delivery
}

/** A record as published: its bytes and the hash of the ciphertext inside (what an audit leaf commits to). */
export interface PublishedRecord {
  /** The record's bytes as published; see {@link RoomMessage.record}. */
  record: Uint8Array
  /** sha256 of the ciphertext inside; see {@link RoomMessage.ciphertextHash}. */
  ciphertextHash: Bytes32
}

/** Where a room message went: the gossip neighbours that took the record (not the members who read it). */
export interface RoomDelivery {
  recipients: PeerId[]
}

/** What `Room.send` resolves to: one record for the whole room, so the sender can anchor or prove it. */
export interface RoomSendResult extends SendResult<RoomDelivery>, PublishedRecord {}

/** A moderation event a room's log kept (`rooms/moderation-log.ts`'s verdict; the sdk's types stay below rooms). */
export type RoomModerationChange =
  | { status: 'applied'; hash: string; event: RoomModerationEvent }
  | { status: 'void'; hash: string; event: RoomModerationEvent; reason: string }

export interface RoomModerationEvent {
  room: string
  prev: string
  action:
    | 'mod-add'
    | 'mod-remove'
    | 'owner-transfer'
    | 'kick'
    | 'ban'
    | 'unban'
    | 'mute'
    | 'unmute'
    | 'lock'
    | 'unlock'
    | 'remove'
    | 'gate'
    | 'timer'
  target: string
  /** `mute`: when it ends. */
  until?: number
  /** `lock`: only the owner and moderators may send. */
  readOnly?: true
  /** `lock`: the members it admits (with the roles). */
  members?: string[]
  /** `remove`: the message removed (`target` is its author). */
  message?: string
  /** `gate`: the room's new token gate; absent, the gate is lifted. */
  rule?: GateRule
  /** `timer`: the disappearing-messages timer from `atMs` on, in seconds (0: off). */
  seconds?: number
  author: string
  atMs: number
  sig: string
}

export interface RoomEvents {
  'message:received': CustomEvent<RoomMessage>
  /** A message's reactions, text (edited or deleted) or thread changed; see {@link MessageUpdate}. */
  'message:updated': CustomEvent<RoomMessageUpdate>
  /** A reaction, edit or delete that does not count: of another wallet's message, or beyond a bound. */
  'change:refused': CustomEvent<RefusedChange>
  /** A reaction, edit or delete arrived (its record, for transcripts); `message:updated` tells what it changed. */
  'change:received': CustomEvent<RoomChangeRecord>
  /**
   * The room's disappearing-messages timer changed: its owner's `timer` event, applied by the moderation log, live
   * or from the stores (`moderation:changed` tells the event too).
   */
  'timer:changed': CustomEvent<RoomTimerUpdate>
  /** Messages past their disappearing timer left this device: its memory and vault. */
  'message:expired': CustomEvent<RoomExpiry>
  'member:joined': CustomEvent<RoomMember>
  'member:left': CustomEvent<RoomMember>
  /**
   * A wallet was removed from the room (a ban, a kick, a lock that leaves it out, a token gate it fails): once per
   * wallet, after every device of it this device knew has left (`member:left`) and our sender key rotated without
   * them, so what this device sends from now on is unreadable to it. For a wallet of which a device was here, for
   * this device's own wallet when it is the one removed, and for a ban's or kick's target in any case (another member
   * may have known it where this device did not).
   */
  'member:removed': CustomEvent<RoomMemberRemoved>
  /**
   * The room's moderation log kept an event (`Room.moderation`): applied, or void with the reason. A banned or
   * kicked member has left (`member:left`), our sender key rotates without it, then `member:removed` says so.
   */
  'moderation:changed': CustomEvent<RoomModerationChange>
  'message:rejected': CustomEvent<{ from: string; reason: string }>
  /**
   * A message from a verified sender that this device cannot read, and why. One unread for want of
   * its key is kept (bounded): should the key arrive later, `message:received` follows for it.
   */
  'message:undecryptable': CustomEvent<UndecryptableMessage>
  'room:stopped': CustomEvent
  /**
   * This wallet's own eligibility for a gated room changed (a token sold, bought or moved):
   * while ineligible, members drop its records and stop sealing keys to it.
   */
  'access:changed': CustomEvent<{ eligible: boolean; reason: string }>
  /** Catch-up from the relays' stores (`Room.catchUp`): how far it got; last with `done: true`. */
  'history:progress': CustomEvent<HistoryProgress>
  /**
   * One of this device's messages that some members never acknowledged, after it was re-published
   * `MAX_REPUBLISH_ATTEMPTS` times (`rooms/outgoing-buffer.ts`): they may not have it.
   */
  'message:unacknowledged': CustomEvent<UnacknowledgedMessage>
  /** A member wallet's device acknowledged one of this device's messages (`Room.delivery`): it holds it. */
  'message:delivered': CustomEvent<MessageDelivered>
  /** A message later records name (their `deps`) that this device lacks: being fetched, filled or lost. */
  'history:gap': CustomEvent<HistoryGap>
  /** A member started or stopped typing (`signals.ts`); not sent while this device has typing turned off. */
  'typing:changed': CustomEvent<TypingSignal>
  /** A member's device (this wallet's other ones included) read the room up to a message. */
  'read:received': CustomEvent<ReadSignal>
  /** A call signal from a member's device (this wallet's other ones included): for this device or for every one. */
  'call:signal': CustomEvent<CallSignalEvent>
}

/**
 * Someone is typing in a conversation (`typing: true`, repeated every `TYPING_SEND_INTERVAL_MS` while they type) or
 * stopped. Show it for `TYPING_SHOWN_MS` after the last one unless a stop comes.
 */
export interface TypingSignal {
  /** A room's id, or the other wallet's address of a DM. */
  conversation: string
  sender: Address
  senderPeerId: string
  typing: boolean
  sentAtMs: number
}

/** A device read a conversation up to message `upTo` (its id): every message up to it is read. */
export interface ReadSignal {
  /** A room's id, or the other wallet's address of a DM. */
  conversation: string
  reader: Address
  readerPeerId: string
  upTo: string
  sentAtMs: number
  /** Read on another device of this wallet: the conversation is read here too. */
  own: boolean
}

/** What a device sends in a call (`calls/signals.ts`, docs/architecture.md, Calls: signalling). */
export interface CallMedia {
  audio: boolean
  video: boolean
  screen: boolean
}

/** A device's SFrame base key for its own frames in a call (AES_128_GCM_SHA256_128), under a KID of its own. */
export interface CallKey {
  /** An integer, 0 to `CALL_MAX_KID` (2^48). */
  kid: number
  /** Base64url (unpadded, as every record's bytes) of `CALL_KEY_BYTES` (16) random bytes: `encodeCallKey`. */
  key: string
}

/**
 * One call signal, as decrypted and checked (`callSignalSchema`). `call` is the call's id: 32 lowercase hex characters
 * (16 random bytes, `newCallId`).
 * - `here`: the device is in the call (sent on start or join, every `CALL_HERE_INTERVAL_MS`, and at once when its
 *   media or key changes) — the call's membership, its ring and its key distribution;
 * - `leave`: the device left;
 * - `offer` / `answer`: a WebRTC session description for one device (`to`, its PeerId), non-trickle (every ICE
 *   candidate inside), offered by the device whose PeerId sorts lower.
 */
export type CallSignal =
  | {
      v: 1
      kind: 'call'
      op: 'here'
      call: string
      media: CallMedia
      muted: boolean
      key: CallKey
      /** When the call started, as this device knows it. */
      startedAtMs: number
      /**
       * The relay whose forwarding unit the call's media goes through (its PeerId; `SFU_PROTOCOL`), named by the
       * device that started the call; absent for a mesh call.
       */
      sfu?: string | undefined
    }
  | { v: 1; kind: 'call'; op: 'leave'; call: string }
  | { v: 1; kind: 'call'; op: 'offer' | 'answer'; call: string; to: string; sdp: string }

/** What `Room.sendCallSignal` and `Conversation.sendCallSignal` take: a signal without `v` and `kind`. */
export type CallSignalInput = CallSignal extends infer S ? (S extends unknown ? Omit<S, 'v' | 'kind'> : never) : never

/** A call signal another device sent this one (`call:signal`). */
export interface CallSignalEvent {
  /** A room's id, or the other wallet's address of a DM. */
  conversation: string
  /** The sender's wallet: the certificate's address of the PeerId that signed (a room) or owns the session (a DM). */
  sender: Address
  senderPeerId: string
  signal: CallSignal
  /** When the sender sent it, by its clock. */
  sentAtMs: number
}

/**
 * How far one of this device's own room messages got (`rooms/own-deliveries.ts`): "delivered to N of M members
 * present". Counted in wallets, this one's own devices left out.
 */
export interface MessageDelivery {
  roomId: string
  id: string
  /** The other member wallets present when it was sent, and any that came back since and acknowledged it. */
  present: Address[]
  /** Those of them a device of which acknowledged it (its presence's `acks`, or a message's `deps`). */
  delivered: Address[]
}

/** `message:delivered`: a device of wallet `address` (`peerId`) acknowledged the message, and where it stands now. */
export interface MessageDelivered extends MessageDelivery {
  address: Address
  peerId: string
}

export interface UnacknowledgedMessage {
  roomId: string
  id: string
  /**
   * Peer ids of the members that did not acknowledge it; empty for a message sent while no other
   * member was present, which no relay's store came to hold.
   */
  members: string[]
  /** Re-publishes before giving up. */
  attempts: number
  /** `buffer-full`: `MAX_OUTGOING_MESSAGES` newer messages were awaiting acknowledgement too. */
  reason: 'unacknowledged' | 'buffer-full'
}

/**
 * A room's outgoing buffer (`Room.outgoing`): own messages and their acknowledgement; or the DMs'
 * (`client.dms.outgoing`), per device a text went to, acknowledged by a receipt or a store holding it.
 */
export interface OutgoingStats {
  /** Messages sent (DMs: one per device). */
  sent: number
  /** Awaiting acknowledgement now. */
  pending: number
  /** Re-publishes so far: each one an extra record on the topic. */
  republished: number
  /** Given up (a room's `message:unacknowledged`; a DM stays `sent`). */
  unacknowledged: number
}

/**
 * A record later records name that this device lacks (gap repair), rooms and DMs alike: `missing`
 * once it is still absent after a short grace and is being asked for; then `filled` (it was
 * delivered, or this device had it after all) or `lost` (no relay's store nor peer held it within
 * the bound). `history:gap` carries it with where it belongs: {@link HistoryGap} on a room,
 * {@link DmHistoryGap} on the DMs and a conversation.
 */
export interface GapReport {
  /** The missing record's id: sha256 of its bytes, as the stores know it (a room message's id). */
  id: string
  state: 'missing' | 'filled' | 'lost'
  /**
   * The message that named it (in its `deps`): the missing one was sent before it, and a list shows the gap there.
   * Its message id (a DM's, from inside the naming record, when this device read that record lately; else the
   * record's id). Once filled, the message says where it goes itself ({@link RoomMessage.before}).
   */
  before: string
}

/** A gap in a room's history (`history:gap` on the room). */
export interface HistoryGap extends GapReport {
  roomId: string
}

/**
 * A gap in what a device sent this one (`history:gap` on `client.dms` and, for another wallet's
 * device, its conversation): a DM names the records its sender sent this device before it. `id`
 * is the record's id; the message's own id is inside the ciphertext, known once it is filled.
 */
export interface DmHistoryGap extends GapReport {
  /** The wallet of the device whose record is missing (this wallet's own for a copy from another device). */
  sender: Address
  senderPeerId: string
}

/** How a fetched record a gap named ended: delivered as live, already held, or failing the room's or DM's checks. */
export type GapFill = 'delivered' | 'had' | 'rejected'

/**
 * What gap repair (`history/gap-repair.ts`) needs of a room or of the DMs from one device: to know
 * what it holds, and to take a fetched record through its own checks exactly like a live one.
 */
export interface GapSink {
  /** Where missing records are asked for, in order (what the first lacks is asked of the next). */
  topics: string[]
  /** Whether this device has the record: delivered, reported undecryptable, or sent. */
  known(id: string): boolean
  /** Runs a fetched record through the gatekeeper and delivers it as if it came live. */
  fill(message: SignedMessage, receivedAtMs: number): Promise<GapFill>
  report(gap: GapReport): void
}

/** What a room or the DMs tell gap repair of every record they take (`Room.watchGaps`, `DirectMessages`). */
export interface GapWatcher {
  /** Record `id` is here; `deps` are the ids its sender names as sent before (followed when absent). */
  saw(id: string, deps: readonly string[]): void
  /** Resolves once no gap is open (each filled or reported lost). */
  settled(options?: AbortOptions): Promise<void>
  stop(): void
}

/** Progress of one catch-up of a room from the relays' stores. */
/** What a catch-up from the relays' stores has done so far, rooms and DMs alike. */
export interface CatchUpCounts {
  /** Relays asked (connected, speaking the store protocol). */
  relays: number
  /** Records fetched, after deduplication across relays and with what this device had: what is to be delivered. */
  fetched: number
  /** Delivered (`message:received`; for DMs also receipts and session answers read), in order. */
  delivered: number
  /** Not readable on this device (`message:undecryptable`, once each, with the reason). */
  undecryptable: number
  /** Records a store sent that failed verification or the room's or DM's checks (a faulty or lying store). */
  rejected: number
  /** Relays that did not answer. */
  failed: number
  done: boolean
}

/** A room's catch-up (`history:progress` on the room and the client); messages delivered by (Lamport clock, id). */
export interface HistoryProgress extends CatchUpCounts {
  roomId: string
}

export interface UndecryptableMessage {
  roomId: string
  id: string
  sender: Address
  senderPeerId: string
  sentAtMs: number
  /** See {@link RoomMessage.before}. */
  before: string | undefined
  reason: string
  /** The record's bytes as published; see {@link RoomMessage.record}. */
  record: Uint8Array
  /** See {@link RoomMessage.ciphertextHash}. */
  ciphertextHash: Bytes32
}

// --- Rooms: the manifest (schemas in `rooms/manifest.ts` and `gates/rule.ts` parse to these) ---

/** One token condition: `balanceOf` (or `ownerOf` for one ERC-721 id) of a contract on a chain. */
export type TokenRule =
  | { type: 'erc20'; chainId: number; contract: string; minBalance: string; rateTiers?: RateTier[] | undefined }
  /** `tokenId`: a specific token the holder must own (`ownerOf`); then `minBalance` is 1. */
  | {
      type: 'erc721'
      chainId: number
      contract: string
      tokenId?: string | undefined
      minBalance: string
      rateTiers?: RateTier[] | undefined
    }
  | {
      type: 'erc1155'
      chainId: number
      contract: string
      tokenId: string
      minBalance: string
      rateTiers?: RateTier[] | undefined
    }

/**
 * A token-tiered record rate of a gated room (docs/token-gates.md, Rate tiers): a device whose wallet holds at least
 * `minBalance` of the condition's token may send `recordsPerSecond` chat messages to the room, on average, at relays
 * that apply tiers (never above the relay's own ceiling). Tiers rise in both balance and rate.
 */
export interface RateTier {
  /** Decimal string, in the token's base units, as the condition's `minBalance`. */
  minBalance: string
  recordsPerSecond: number
}

/** A token gate: one condition, or any / all of several (docs/architecture.md, Token gates). */
export type GateRule = TokenRule | { anyOf: GateRule[] } | { allOf: GateRule[] }

/** Who may join a room. */
export type RoomAccess = { type: 'public' } | { type: 'invite-only' } | { type: 'gated'; rule: GateRule }

/** A room's rules, signed by its owner; the room id is the hash of its canonical JSON. */
export interface RoomManifest {
  v: 1
  name: string
  owner: string
  access: RoomAccess
  /** Sender keys distributed over a hybrid X25519 + ML-KEM-768 channel (docs/architecture.md, Encryption). */
  encryption: 'sender-keys'
  /** SIWE domains whose certificates this room accepts. */
  domains: string[]
  /** Chain ids whose certificates this room accepts. */
  chainIds: number[]
  salt: string
  createdAtMs: number
}

/** A manifest and its owner's signature (EIP-191, or ERC-1271 for a contract owner), 0x-prefixed hex. */
export interface SignedManifest {
  manifest: RoomManifest
  signature: string
}

/** A room this device joined, as remembered in its vault (`client.savedRooms()`). */
export interface SavedRoom {
  roomId: string
  name: string
  /** Pass it to `client.joinRoom` to join again. */
  manifest: SignedManifest
  /** Relays named by the invite it was joined from (or the client's bootstrap relays then). */
  relays: string[]
  joinedAtMs: number
}

// --- Direct messages (sdk/src/dm) ---

/** A direct message, after its record, sender and ciphertext passed every check. */
export interface DirectMessage {
  /** The other wallet of the conversation. */
  conversation: Address
  /** Chosen by the sender, the same on every device that received the message. */
  id: string
  /** Wallet that wrote it: `conversation` for `in`, this wallet for `out`. */
  sender: Address
  senderPeerId: string
  /** `in`: from the other wallet; `out`: a copy of what another device of this wallet sent. */
  direction: 'in' | 'out'
  kind: 'text'
  text: string
  parentId: string | undefined
  /** The members it mentions (`@0x…` in its text, listed in its envelope: `mentions.ts`), checksummed. */
  mentions: Address[]
  /** See {@link RoomMessage.file}. */
  file?: FileManifest
  /** Sender's clock when it sent, ms since the epoch (not trusted for ordering). */
  sentAtMs: number
  /** The ids of this conversation's messages its sender names as sent before it, those this device had lately. */
  deps: string[]
  /** See {@link RoomMessage.before}. */
  before: string | undefined
  receivedAtMs: number
  /** True when it arrived in a PQXDH initial message, which started a new session. */
  handshake: boolean
}

/** A DM record from a verified sender that this device cannot read, and why. */
export interface UndecryptableDirectMessage {
  /** sha256 of the record bytes, hex. */
  recordId: string
  sender: Address
  senderPeerId: string
  /** The named error, e.g. `DecryptionFailedError`, `DuplicateMessageError`. */
  error: string
  reason: string
}

/** A device of a wallet that this device knows of. */
export interface DmDevice {
  address: Address
  peerId: string
  lastSeenMs: number
  /** A Double Ratchet session with it exists. */
  hasSession: boolean
  /** It answered on a session, so messages go on the pair's topic (not repeated PQXDH on its inbox). */
  established: boolean
}

/** One recipient device of a DM. */
interface DmDeviceTarget {
  address: Address
  peerId: string
}

/**
 * What happened to one recipient device of a DM. Each device gets its own record (its own session's
 * ciphertext), so a DM's records are per device.
 */
export type DmDeviceResult =
  | (DmDeviceTarget &
      PublishedRecord & {
        status: 'sent'
        /** It went in a PQXDH initial message on the wallet's inbox: a new session, or one the device has not answered yet. */
        handshake: boolean
        /** Gossip neighbours the record went to (0: nobody carries that device's topic now). */
        recipients: number
      })
  | (DmDeviceTarget & {
      status: 'failed'
      handshake: false
      recipients: 0
      /** Why: the error's name and message. */
      error: string
    })

/** What `Conversation.send` resolves to: one entry per device (the recipient's and this wallet's other ones). */
export interface DmSendResult extends SendResult<DmDeviceResult[]> {}

/**
 * Where a sent direct message stands on one device: `sent` (published; a device that is offline gets it from the
 * relays' stores when it returns), `delivered` (the device's receipt came back), or `failed` (not sent to it).
 */
export interface DmDeviceStatus extends DmDeviceTarget {
  status: 'sent' | 'delivered' | 'failed'
}

/** A device's receipt for a sent message: it reached that device (`message:delivered`). */
export interface DmDelivered extends DmDeviceTarget {
  /** The message id ({@link DmSendResult.id}). */
  id: string
  /** The conversation it was sent in. */
  conversation: Address
}

/** How far a DM catch-up from the relays' stores is (`history:progress` of `client.dms`). */
/** The DM catch-up (`history:progress` on `client.dms`). */
export interface DmHistoryProgress extends CatchUpCounts {
  /** Topics asked: this wallet's inbox and each session's pair topic. */
  topics: number
}

export interface DirectMessagesEvents {
  'message:received': CustomEvent<DirectMessage>
  'message:updated': CustomEvent<DmMessageUpdate>
  'change:refused': CustomEvent<RefusedChange>
  'timer:changed': CustomEvent<DmTimerUpdate>
  'timer:refused': CustomEvent<RefusedTimer>
  'message:expired': CustomEvent<DmExpiry>
  'message:undecryptable': CustomEvent<UndecryptableDirectMessage>
  'message:rejected': CustomEvent<{ from: string; reason: string }>
  'device:discovered': CustomEvent<DmDevice>
  /** A session this device started was answered: what it sends that device now goes on the pair's topic. */
  'session:established': CustomEvent<DmDevice>
  /** A device's receipt for a message this device sent. */
  'message:delivered': CustomEvent<DmDelivered>
  /** A catch-up from the relays' stores (on start and when a relay with history connects) progressed. */
  'history:progress': CustomEvent<DmHistoryProgress>
  /** A record a DM names (its `deps`) that this device lacks: being fetched from the stores, filled or lost. */
  'history:gap': CustomEvent<DmHistoryGap>
  /** The other wallet started or stopped typing (`signals.ts`). */
  'typing:changed': CustomEvent<TypingSignal>
  /** The other wallet, or another device of this one (`own`), read the conversation up to a message. */
  'read:received': CustomEvent<ReadSignal>
  /** A call signal from one of the other wallet's devices, or from another device of this one (in its conversation). */
  'call:signal': CustomEvent<CallSignalEvent>
  'dm:stopped': CustomEvent
}

export interface ConversationEvents {
  'message:received': CustomEvent<DirectMessage>
  'message:updated': CustomEvent<DmMessageUpdate>
  'change:refused': CustomEvent<RefusedChange>
  'timer:changed': CustomEvent<DmTimerUpdate>
  'timer:refused': CustomEvent<RefusedTimer>
  'message:expired': CustomEvent<DmExpiry>
  'message:undecryptable': CustomEvent<UndecryptableDirectMessage>
  'message:delivered': CustomEvent<DmDelivered>
  'typing:changed': CustomEvent<TypingSignal>
  'read:received': CustomEvent<ReadSignal>
  'call:signal': CustomEvent<CallSignalEvent>
  /** A gap in what one of the other wallet's devices sent this one (see `DirectMessagesEvents`). */
  'history:gap': CustomEvent<DmHistoryGap>
  'conversation:stopped': CustomEvent
}
