import type { SecureChatClient, ShareFileOptions, ShareFileResult } from '@securechat/sdk/client'
import { NotEligibleError } from '@securechat/sdk/errors'
import type { GateRule } from '@securechat/sdk/gates'
import { decodeInvite, encodeInvite, type ModerationRole, type Room } from '@securechat/sdk/rooms'
import type {
  DirectMessage,
  DmDelivered,
  DmDeviceStatus,
  DmHistoryGap,
  DmHistoryProgress,
  DmMessageUpdate,
  FileManifest,
  GapReport,
  HistoryProgress,
  MessageState,
  MessageUpdate,
  RoomMember,
  RoomMessage,
  RoomModerationChange,
  UndecryptableMessage,
} from '@securechat/sdk/types'
import { getAddress } from 'ethers'
import { ConversationTimers } from './disappearing.ts'
import { describeError, describeSendProblem } from './errors.ts'
import {
  type ChatEntry,
  type DeviceDelivery,
  HISTORY_LIMIT,
  type HistoryStore,
  type SavedConversation,
  type VerifiedAnchor,
} from './history-store.ts'
import { LatePlacement } from './late-placement.ts'
import { mentionFields, updateMentions } from './mentions.ts'
import { setRoomTimer } from './moderation.ts'
import { isChange, type MessageChangeRequest, Outbox, type PendingChange, type PendingMessage } from './outbox.ts'
import { isRefusedForGood, requireReached, sendChange } from './pending-changes.ts'
import { inviteSummary, notEligibleSentence, requirementSentence } from './room-access.ts'
import type { Session, SessionPart, SignedIn } from './session.ts'

export interface ConversationView {
  kind: 'room' | 'dm'
  /** A room's id, or the other wallet's address (checksummed) of a DM. */
  id: string
  name: string
  /** A room's invite, from its manifest and relays as the sdk saved them. */
  invite: string | undefined
  lastReadMs: number
  unread: number
  /**
   * `joining`: waiting for the network (a DM too: it sends once a relay answers); `not-eligible`: the wallet
   * fails the room's token gate (`problem` says what it needs); `banned`: the room's moderation log bans this
   * wallet (the room still runs, to see an unban); `removed`: a moderator kicked it, and the room is stopped until
   * it rejoins ({@link Conversations.rejoin}). `sanction` says who did it and when.
   */
  state: 'joining' | 'joined' | 'not-eligible' | 'error' | 'banned' | 'removed'
  problem: string | undefined
  sanction: Sanction | undefined
  members: RoomMember[]
  /**
   * A catch-up from the relays' stores is running: `delivered` of `fetched` messages shown so far (`fetched` is
   * undefined while the stores are still being asked). The DMs' catch-up is one for all of them: each DM shows it.
   */
  catchingUp: CatchingUp | undefined
}

/** `sinceMs`: when it began, by this page's clock — a message written since is news, not backlog (notifications.ts). */
export type CatchingUp = { delivered: number; fetched: number | undefined; sinceMs: number }

/** Who banned or removed this wallet from a room, and when (the moderation event's author and time). */
export type Sanction = { by: string; atMs: number }

/**
 * Messages of a conversation that later ones named and this device lacks (the sdk's `history:gap`), shown as one
 * line where they belong: before the message that named them (`before`), or after the last one when that message
 * is not in the history shown. `missing` are being fetched; `lost` could not be recovered.
 */
export interface GapLine {
  before: string | undefined
  missing: number
  lost: number
}

/** A gap still shown: being fetched, or given up on. */
type OpenGap = { state: 'missing' | 'lost'; before: string | undefined }

/** A message the sdk did not say came late: it goes last. */
const NOT_LATE = { before: undefined }

/**
 * Changes within this long are told once: a catch-up delivers hundreds of messages a second, and each
 * `conversations:changed` re-renders the open conversation.
 */
const CHANGE_BATCH_MS = 16

/** How soon a message that could not go out (nobody to hand it to yet, a failed DM) is tried again. */
export const SEND_RETRY_MS = 3_000

/** A room shown but not joined (the wallet fails its gate): never saved, by the sdk or here. */
const PENDING_PREFIX = 'pending:'

/** Whether `id` is a room shown but not joined (the wallet fails its gate). */
export function isPendingRoom(id: string): boolean {
  return id.startsWith(PENDING_PREFIX)
}

/** A room's token gate, from the invite it was joined with; undefined for an open room or a DM. */
function gateOf(view: ConversationView): GateRule | undefined {
  return view.kind === 'room' && view.invite !== undefined ? inviteSummary(view.invite)?.gate : undefined
}

/** Accepts an invite string or a link carrying one (`…#invite=securechat:…`). */
export function inviteFromText(text: string): string {
  const trimmed = text.trim()
  const hash = trimmed.indexOf('#invite=')
  return hash === -1 ? trimmed : decodeURIComponent(trimmed.slice(hash + '#invite='.length))
}

/**
 * The signed-in wallet's conversations — the rooms the sdk saved (`client.savedRooms()`) and the DMs — with
 * their state, members and history. Dispatches `conversations:changed` when any of it changed, and
 * `message:added` (detail: the conversation's id and the entry) for each message added to a history.
 */
export class Conversations extends EventTarget implements SessionPart {
  readonly #session: Session
  readonly #views = new Map<string, ConversationView>()
  readonly #history = new Map<string, ChatEntry[]>()
  #signedIn: SignedIn | undefined
  /** Set once the client reached a relay. */
  #client: SecureChatClient | undefined
  #outbox: Outbox | undefined
  /** Why a pending message did not go out at its last try, by its outbox id. */
  readonly #sendProblems = new Map<string, string>()
  /** The outbox being sent; {@link #flushAgain} asks for another pass once it ends. */
  #flushing: Promise<void> | undefined
  #flushAgain = false
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  /** Open gaps by conversation, then by the missing message's id. */
  readonly #gaps = new Map<string, Map<string, OpenGap>>()
  /** Where a message that arrives late goes (`late-placement.ts`). */
  readonly #placement = new LatePlacement()
  /** The DMs' catch-up from the relays' stores, while it runs (`client.dms` `history:progress`). */
  #dmCatchingUp: CatchingUp | undefined
  /** The history write of the receipts of one burst, once they are all in (see `#watchDms`). */
  #savingDelivered: Promise<void> | undefined
  #changeTimer: ReturnType<typeof setTimeout> | undefined
  /** The conversation open at the last sign-out or reload, until {@link takeLastOpen} hands it over. */
  #lastOpen: string | undefined
  /** What {@link remember} last wrote: a re-selection of the same conversation writes nothing. */
  #remembered: string | undefined
  /**
   * Each room's requirement once known (see {@link requirement}): a gated room's once its tokens were asked for,
   * `null` for an open room (its invite is decoded once, not on every render).
   */
  readonly #requirements = new Map<string, string | null>()
  #detach: Array<() => void> = []
  /** When this device last (re)joined each room: a kick signed before it was undone by the presence sent since. */
  readonly #joinedAtMs = new Map<string, number>()
  /**
   * The sdk's state of each message shown, asked for once (every render shows them all, a catch-up renders
   * hundreds of times) and replaced by each `message:updated`; `null`: the sdk did not have it when asked.
   */
  readonly #states = new Map<string, MessageState | null>()
  /** Each conversation's disappearing-messages timer, and its history kept in step with it (`disappearing.ts`). */
  readonly timers: ConversationTimers

  constructor(session: Session) {
    super()
    this.#session = session
    this.timers = new ConversationTimers({
      history: (id) => this.history(id),
      append: (id, entry) => this.#append(id, entry),
      replace: (id, entries) => {
        const kept = new Set(entries.map((entry) => entry.id))
        this.#filesGone(this.history(id).filter((entry) => !kept.has(entry.id)))
        this.#history.set(id, entries)
        const store = this.#signedIn?.store
        store?.saveHistory(id, entries)
        // Gone from the vault at once, as a delete is: a reload meanwhile would keep the text.
        void store?.flush()
        this.#changed()
      },
      self: () => this.#signedIn?.address,
    })
    // The network came back (or a relay answered again): what was written meanwhile goes out.
    session.addEventListener('session:changed', () => this.#flush())
  }

  get list(): ConversationView[] {
    return [...this.#views.values()]
  }

  get(id: string): ConversationView | undefined {
    return this.#views.get(id)
  }

  history(id: string): ChatEntry[] {
    return this.#history.get(id) ?? []
  }

  /** The gaps of conversation `id`, one line per place (the message they came before). */
  gaps(id: string): GapLine[] {
    const lines = new Map<string | undefined, GapLine>()
    for (const gap of this.#gaps.get(id)?.values() ?? []) {
      const line = lines.get(gap.before) ?? { before: gap.before, missing: 0, lost: 0 }
      line[gap.state] += 1
      lines.set(gap.before, line)
    }
    return [...lines.values()]
  }

  /** Messages written in `id` that the network has not taken yet, oldest first. */
  pending(id: string): PendingMessage[] {
    return this.#outbox?.of(id) ?? []
  }

  /** Why the pending message `pendingId` did not go out at its last try, if it failed. */
  sendProblem(pendingId: string): string | undefined {
    return this.#sendProblems.get(pendingId)
  }

  async open(signedIn: SignedIn): Promise<void> {
    this.#signedIn = signedIn
    const { store, client } = signedIn
    const [rooms, saved, lastOpen] = await Promise.all([
      client.savedRooms(),
      store.conversations(),
      store.lastOpen().catch(() => undefined),
    ])

    const savedById = new Map(saved.map((conversation) => [conversation.id, conversation]))
    const views: ConversationView[] = [
      ...rooms.map((room): ConversationView => {
        const kept = savedById.get(room.roomId)
        const removed = kept?.kind === 'room' ? kept.removed : undefined
        return {
          kind: 'room',
          id: room.roomId,
          name: room.name,
          invite: encodeInvite({ manifest: room.manifest, relays: room.relays }),
          lastReadMs: kept?.lastReadMs ?? room.joinedAtMs,
          unread: 0,
          // Removed by a moderator: not joined again at start (its presence would take it back in) until it rejoins.
          state: removed === undefined ? 'joining' : 'removed',
          problem: undefined,
          sanction: removed,
          members: [],
          catchingUp: undefined,
        }
      }),
      ...saved.flatMap((conversation): ConversationView[] =>
        conversation.kind === 'dm'
          ? [dmView(conversation.id, conversation.name, conversation.lastReadMs, undefined)]
          : [],
      ),
    ]
    const [histories, outbox] = await Promise.all([
      Promise.all(views.map((view) => store.history(view.id))),
      Outbox.open(signedIn.vault),
    ])
    views.forEach((view, i) => {
      const history = histories[i]!
      view.unread = history.filter((e) => !e.mine && e.receivedAtMs > view.lastReadMs).length
      this.#views.set(view.id, view)
      this.#history.set(view.id, history)
    })
    // Sent, and kept in the history, just before a reload could take it out of the outbox: never sent twice.
    const sent = new Set(histories.flatMap((history) => history.flatMap((entry) => entry.sentFrom ?? [])))
    await outbox.remove((item) => sent.has(item.id) || !this.#views.has(item.conversation))
    this.#outbox = outbox
    // A room the sdk no longer has was left: nothing of it stays here either.
    const gone = saved.filter((conversation) => conversation.kind === 'room' && !this.#views.has(conversation.id))
    if (gone.length > 0) {
      await Promise.all(gone.map((conversation) => store.deleteHistory(conversation.id)))
      await this.#saveIndex()
    }
    // Once the views are there: the view asks on every change.
    this.#lastOpen = lastOpen
    this.#remembered = lastOpen
    this.#changed()
  }

  async connected(client: SecureChatClient): Promise<void> {
    this.#client = client
    this.#watchDms(client)
    const rejoin: Array<Promise<void>> = []
    for (const view of this.#views.values()) {
      if (view.kind === 'dm') view.state = 'joined'
      else if (view.state === 'joining') rejoin.push(this.#rejoin(client, view))
    }
    this.#changed()
    this.#flush() // DMs can go at once
    await Promise.all(rejoin)
    this.#changed()
  }

  close(): void {
    this.timers.close()
    for (const detach of this.#detach) detach()
    this.#detach = []
    this.#signedIn = undefined
    this.#client = undefined
    this.#lastOpen = undefined
    this.#remembered = undefined
    this.#outbox = undefined
    this.#sendProblems.clear()
    this.#dmCatchingUp = undefined
    this.#gaps.clear()
    this.#placement.clear()
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#views.clear()
    this.#requirements.clear()
    this.#joinedAtMs.clear()
    this.#states.clear()
    this.#history.clear()
    this.#changed()
  }

  async createRoom(params: { name: string; gate: GateRule | undefined }): Promise<string> {
    const client = this.#requireClient()
    const { room, invite } = await client.createRoom({
      name: params.name,
      access: params.gate === undefined ? { type: 'public' } : { type: 'gated', rule: params.gate },
      domains: [location.host],
      chainIds: [this.#session.config.chainId],
    })
    this.#addRoom(room, invite)
    return room.id
  }

  /** Joins by invite (or invite link). A wallet failing the gate gets a `not-eligible` conversation. */
  async joinInvite(text: string): Promise<string> {
    const invite = inviteFromText(text)
    const { manifest } = decodeInvite(invite)
    // An invite link opened at start waits for the first relay instead of failing.
    const client = this.#client ?? (await this.#session.whenConnected())
    try {
      // The sdk keeps the invite's relays dialled from now on. Its listeners first, then the catch-up: its progress and messages are all seen.
      const room = await client.joinRoom(invite, { catchUp: 'later' })
      this.#addRoom(room, invite)
      this.#catchUp(client, room)
      return room.id
    } catch (err) {
      if (!(err instanceof NotEligibleError)) throw err
      // Shown, not saved: a later token purchase is picked up by joining again.
      const id = `${PENDING_PREFIX}${manifest.signature.slice(2, 18)}`
      this.#views.set(id, {
        kind: 'room',
        id,
        name: manifest.manifest.name,
        invite,
        lastReadMs: Date.now(),
        unread: 0,
        state: 'not-eligible',
        problem: notEligibleSentence(inviteSummary(invite)?.gate, err.message),
        sanction: undefined,
        members: [],
        catchingUp: undefined,
      })
      this.#changed()
      return id
    }
  }

  openDm(address: string): string {
    const peer = getAddress(address)
    if (!this.#views.has(peer)) {
      const view = dmView(peer, peer, Date.now(), this.#dmCatchingUp)
      if (this.#client !== undefined) view.state = 'joined'
      this.#views.set(peer, view)
      void this.#saveIndex()
      this.#changed()
    }
    return peer
  }

  /** Leaves a room (forgotten by the sdk, its keys too: also offline) or closes a DM, and drops its history. */
  /**
   * The conversation that was open when the app was last used, once per sign-in (after a reload too), if it is
   * still there: the view opens it again.
   */
  takeLastOpen(): string | undefined {
    const id = this.#lastOpen
    this.#lastOpen = undefined
    return id !== undefined && this.#views.has(id) && !isPendingRoom(id) ? id : undefined
  }

  /**
   * What room `id` asks of its members, in a sentence ("Members hold 1 × SecureChat Member (0x…) on chain
   * 31337."), or undefined for an open room or a DM. The first call asks the chain for the tokens' names (through
   * the sdk's gate evaluator, which reads this wallet's balance anyway); until it answers, the sentence names the
   * token standard instead.
   */
  requirement(id: string): string | undefined {
    const known = this.#requirements.get(id)
    if (known !== undefined) return known ?? undefined
    const view = this.#views.get(id)
    const gate = view === undefined ? undefined : this.#gateNow(view)
    if (gate === undefined) {
      if (view?.kind === 'room' && view.invite !== undefined) this.#requirements.set(id, null)
      return undefined
    }
    const client = this.#client
    if (client?.gates !== undefined && view?.state === 'joined') {
      this.#requirements.set(id, requirementSentence(gate))
      void client.gates.evaluate(gate, client.address).then(
        (result) => {
          const tokens = new Map(result.holdings.map((h) => [getAddress(h.condition.contract), h.token]))
          this.#requirements.set(id, requirementSentence(gate, tokens))
          this.#changed()
        },
        () => {}, // the standard's name stays
      )
    }
    return requirementSentence(gate)
  }

  /**
   * A room's access rule now: its moderation log's once the room runs here (the owner may have changed the gate,
   * `gate` events), else its invite's.
   */
  #gateNow(view: ConversationView): GateRule | undefined {
    const room = view.kind === 'room' ? this.#client?.room(view.id) : undefined
    return room === undefined ? gateOf(view) : room.gateRule
  }

  /** Keeps `id` (or no conversation) as the one open, for {@link takeLastOpen} after a reload. */
  remember(id: string | undefined): void {
    const store = this.#signedIn?.store
    const kept = id === undefined || isPendingRoom(id) ? undefined : id
    if (store === undefined || kept === this.#remembered) return
    this.#remembered = kept
    this.#lastOpen = undefined
    void store.saveLastOpen(kept).catch(() => {})
  }

  async leave(id: string): Promise<void> {
    const view = this.#views.get(id)
    const signedIn = this.#signedIn
    if (view === undefined || signedIn === undefined) return
    if (view.kind === 'room' && !id.startsWith(PENDING_PREFIX)) await signedIn.client.leaveRoom(id)
    this.#views.delete(id)
    this.#filesGone(this.history(id))
    this.#history.delete(id)
    this.#gaps.delete(id)
    await this.#outbox?.remove((item) => item.conversation === id)
    await signedIn.store.deleteHistory(id)
    await this.#saveIndex()
    this.#changed()
  }

  /**
   * Takes a message for `id`: kept in the vault's outbox first (resolves once it is there), then sent as soon as
   * the network and the conversation allow: at once when online, else when the network comes back, also after a
   * reload. Until then it is shown as pending ({@link pending}).
   */
  async send(id: string, text: string, parentId?: string): Promise<void> {
    const view = this.#views.get(id)
    const outbox = this.#outbox
    if (view === undefined || outbox === undefined) throw new Error('no such conversation')
    if (view.state === 'banned') throw new Error('you are banned from this room: nothing you send reaches it')
    if (view.state === 'removed') throw new Error('a moderator removed you from this room: rejoin it to write')
    if (view.state === 'not-eligible' || view.state === 'error') throw new Error(view.problem ?? 'cannot send here')
    await outbox.add(id, text, parentId)
    this.#changed()
    this.#flush()
  }

  /**
   * Shares a file in conversation `id`, `caption` its text: encrypted into blocks on this device, kept by the
   * connected relays that keep files, then announced by a message added to the history. Live, not through the
   * outbox: the vault keeps messages, not the files picked in this tab, so a share needs the network now (a reload
   * mid-way loses it; the person picks the file again).
   */
  async shareFile(
    id: string,
    source: ReadableStream<Uint8Array>,
    meta: { name: string; type: string },
    caption: string,
    options: Pick<ShareFileOptions, 'signal' | 'size' | 'onProgress' | 'thumbnail'> = {},
  ): Promise<ShareFileResult> {
    const view = this.#views.get(id)
    const signedIn = this.#signedIn
    if (view === undefined || signedIn === undefined) throw new Error('no such conversation')
    const client = this.#requireClient()
    if (view.state !== 'joined')
      throw new Error(view.problem ?? 'not connected to this conversation yet: share again in a moment')
    const target = view.kind === 'room' ? client.room(view.id) : client.dm(view.id)
    if (target === undefined) throw new Error('this room is not joined yet')
    const shared = await client.shareFile(target, source, meta, { caption, ...options })
    const devices =
      'delivery' in shared && Array.isArray(shared.delivery)
        ? peerDevices(view.id, client.dms.status(shared.id) ?? shared.delivery)
        : undefined
    this.#append(view.id, {
      id: shared.id,
      sender: signedIn.address,
      text: caption,
      sentAtMs: shared.sentAtMs,
      receivedAtMs: Date.now(),
      mine: true,
      state: 'ok',
      file: shared.file,
      ...('ciphertextHash' in shared && typeof shared.ciphertextHash === 'string'
        ? { ciphertextHash: shared.ciphertextHash }
        : {}),
      ...(devices === undefined ? {} : { delivery: devices }),
    })
    await signedIn.store.flush()
    return shared
  }

  /**
   * Message `messageId` of conversation `id` as the sdk knows it now — reactions, versions, thread — or undefined
   * before the network is there (the history shows its text, edited or deleted, all the same).
   */
  messageState(id: string, messageId: string): MessageState | undefined {
    const key = `${id} ${messageId}`
    const known = this.#states.get(key)
    if (known !== undefined) return known ?? undefined
    const view = this.#views.get(id)
    const client = this.#client
    if (view === undefined || client === undefined) return undefined
    const room = view.kind === 'room' ? client.room(id) : undefined
    if (view.kind === 'room' && room === undefined) return undefined
    const state = room !== undefined ? room.message(messageId) : client.dm(view.id).message(messageId)
    this.#states.set(key, state ?? null)
    return state
  }

  /**
   * The threads of conversation `id`: by root, its replies oldest first — each message whose parent chain leads to
   * a message of the history (the history's, so a thread reads the same offline and after a reload). A reply whose
   * root is not here stays in the conversation.
   */
  threads(id: string): Map<string, ChatEntry[]> {
    const history = this.history(id)
    const parents = new Map(history.map((e) => [e.id, e.parentId]))
    const threads = new Map<string, ChatEntry[]>()
    for (const entry of history) {
      if (entry.parentId === undefined) continue
      const root = threadRoot(parents, entry.id)
      if (root === entry.id || !parents.has(root)) continue
      threads.set(root, [...(threads.get(root) ?? []), entry])
    }
    return threads
  }

  /** Adds (or, `remove`, takes back) this wallet's reaction `emoji` to message `messageId`. */
  async react(id: string, messageId: string, emoji: string, remove = false): Promise<void> {
    await this.#queue(id, { kind: 'react', target: messageId, emoji, remove })
  }

  /** A new text for this wallet's message `messageId`: the others see it edited, with every version. */
  async edit(id: string, messageId: string, text: string): Promise<void> {
    await this.#queue(id, { kind: 'edit', target: messageId, text })
  }

  /** Deletes this wallet's message `messageId`: every honest device drops its text, vault included. */
  async delete(id: string, messageId: string): Promise<void> {
    await this.#queue(id, { kind: 'delete', target: messageId })
  }

  /**
   * Sets conversation `id`'s disappearing-messages timer (seconds, 0: off), at once, not through the outbox: a room's
   * owner — an event of the room's moderation log, which the wallet signs (a prompt in MetaMask) — or either wallet
   * of a DM.
   */
  async setDisappearing(id: string, seconds: number): Promise<void> {
    const view = this.#views.get(id)
    const client = this.#requireClient()
    const signedIn = this.#signedIn
    if (view === undefined || view.state !== 'joined' || signedIn === undefined) {
      throw new Error('not connected to this conversation yet')
    }
    if (view.kind === 'dm') {
      await client.dm(view.id).setDisappearing(seconds)
      return
    }
    const room = client.room(id)
    if (room === undefined) throw new Error('this room is not joined yet')
    await setRoomTimer(signedIn, room, seconds)
  }

  /** Reactions, edits and deletes of messages in `id` that the network has not taken yet, oldest first. */
  pendingChanges(id: string): PendingChange[] {
    return this.#outbox?.changesOf(id) ?? []
  }

  /**
   * A reaction, edit or delete: kept in the vault's outbox first (resolves once it is there), then sent with the
   * conversation's messages, in the order written — at once when online, else when the network comes back, also
   * after a reload. The sdk's `message:updated` then changes the history, here and on every device.
   */
  async #queue(id: string, change: MessageChangeRequest): Promise<void> {
    const view = this.#views.get(id)
    const outbox = this.#outbox
    if (view === undefined || outbox === undefined) throw new Error('no such conversation')
    await outbox.addChange(id, change)
    this.#changed()
    this.#flush()
  }

  /**
   * A message's state changed (`message:updated`): an edit's text or a delete goes into the history (a delete
   * leaves no text in it, in the vault too); reactions and thread counts are read from the sdk when shown.
   */
  #onUpdated(id: string, update: MessageUpdate): void {
    const { change, message } = update
    this.#states.set(`${id} ${message.id}`, message)
    const entry = this.#history.get(id)?.find((e) => e.id === message.id)
    // A delete is final: an edit the sdk brings again after a reload (its vault a write behind) changes nothing.
    if (entry !== undefined && entry.deleted !== true && (change.kind === 'edit' || change.kind === 'delete')) {
      entry.text = message.text ?? ''
      entry.edited = message.edited || undefined
      entry.deleted = message.deleted || undefined
      // A deleted file's key leaves the history (and the vault) with its caption.
      if (message.deleted) this.#dropFile(entry)
      if (message.removedBy !== undefined) entry.removedBy = message.removedBy
      updateMentions(entry, message)
      const store = this.#signedIn?.store
      store?.saveHistory(id, this.history(id))
      // A delete leaves the vault at once, not after the store's delay: a reload meanwhile kept the text.
      if (message.deleted) void store?.flush()
    }
    this.#changed()
  }

  /**
   * What the sdk folded while this history was not watching — a reload just after it came, before the history's
   * write (the sdk writes its own with its position, so its catch-up will not deliver these again):
   * - a message the sdk keeps that the history lacks is added, before the next one the history has (the sdk keeps
   *   them in the order they came), or last;
   * - an edit or delete: its text goes, or becomes the latest version, here and in the vault. Only forwards: the
   *   sdk's own vault write may lag this history's (a delete is written here at once), and its catch-up brings the
   *   change again.
   */
  #reconcile(
    id: string,
    source: { message(id: string): MessageState | undefined; keptMessages(): MessageState[] },
  ): void {
    const history = this.history(id)
    let changed = this.#addMissed(id, history, source.keptMessages())
    for (const entry of history) {
      const state = source.message(entry.id)
      if (state === undefined || entry.state !== 'ok' || entry.deleted === true) continue
      if (!state.deleted && !(state.edited && state.text !== entry.text)) continue
      entry.text = state.text ?? ''
      entry.edited = state.edited || undefined
      entry.deleted = state.deleted || undefined
      if (state.deleted) this.#dropFile(entry)
      if (state.removedBy !== undefined) entry.removedBy = state.removedBy
      updateMentions(entry, state)
      changed = true
    }
    if (changed) {
      this.#history.set(id, history)
      this.#signedIn?.store.saveHistory(id, history)
      this.#changed()
    }
  }

  /** Adds to `history` the messages of `kept` (the sdk's, in the order they came) it lacks; whether there were any. */
  #addMissed(id: string, history: ChatEntry[], kept: MessageState[]): boolean {
    const shown = new Set(history.map((entry) => entry.id))
    const self = this.#signedIn?.address.toLowerCase()
    const view = this.#views.get(id)
    let added = false
    // From the newest back: each goes before the next one shown (or one just added), so a run keeps its order.
    let next: string | undefined
    for (const state of [...kept].reverse()) {
      if (shown.has(state.id)) {
        next = state.id
        continue
      }
      // A deleted one never shown has nothing to show.
      if (state.deleted) continue
      const mine = state.sender.toLowerCase() === self
      const entry: ChatEntry = {
        id: state.id,
        sender: state.sender,
        text: state.text ?? '',
        sentAtMs: state.sentAtMs,
        receivedAtMs: state.sentAtMs,
        mine,
        state: 'ok',
        ...messageFields(state.parentId, state, state.mentions, state.file),
      }
      this.#placement.place(history, entry, next, [])
      next = state.id
      if (view !== undefined && !mine && entry.receivedAtMs > view.lastReadMs) view.unread += 1
      added = true
    }
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT)
    return added
  }

  /** Sends the outbox, oldest first, unless a pass is running (then it runs once more after it). */
  #flush(): void {
    if (this.#outbox === undefined || this.#outbox.all.length === 0) return
    if (this.#flushing !== undefined) {
      this.#flushAgain = true
      return
    }
    this.#flushing = (async () => {
      do {
        this.#flushAgain = false
        await this.#sendPending()
      } while (this.#flushAgain)
    })().finally(() => {
      this.#flushing = undefined
    })
  }

  async #sendPending(): Promise<void> {
    const client = this.#client
    const outbox = this.#outbox
    const signedIn = this.#signedIn
    // Offline or no relay: publishing would hand the message to nobody (gossip accepts it all the same).
    if (client === undefined || outbox === undefined || signedIn === undefined) return
    if (this.#session.network !== 'online') return
    // One message that cannot go holds back the later ones of its conversation: they stay in order.
    const held = new Set<string>()
    for (const item of outbox.all) {
      if (this.#outbox !== outbox) return // signed out meanwhile
      const view = this.#views.get(item.conversation)
      if (held.has(item.conversation) || view === undefined || view.state !== 'joined') continue
      if (isChange(item)) {
        if (!(await this.#sendQueuedChange(client, view, item))) held.add(item.conversation)
        continue
      }
      let sent: { id: string; sentAtMs: number; ciphertextHash?: string; devices?: DeviceDelivery[] }
      const reply = item.parentId === undefined ? {} : { parentId: item.parentId }
      try {
        if (view.kind === 'room') {
          const room = client.room(view.id)
          if (room === undefined) throw new Error('this room is not joined yet')
          // The sdk waits a while for a neighbour carrying the room, and fails rather than publish to nobody.
          const published = await room.send(item.text, reply)
          requireReached(published)
          sent = published
        } else {
          const dm = await client.dm(view.id).send(item.text, reply)
          // The sdk's status, not the send result: a receipt may have come back already.
          sent = { ...dm, devices: peerDevices(view.id, client.dms.status(dm.id) ?? dm.delivery) }
        }
      } catch (err) {
        held.add(item.conversation)
        this.#retryLater(item.id, err)
        continue
      }
      this.#sendProblems.delete(item.id)
      this.#append(view.id, {
        id: sent.id,
        sender: signedIn.address,
        text: item.text,
        sentAtMs: sent.sentAtMs,
        receivedAtMs: Date.now(),
        mine: true,
        state: 'ok',
        ...reply,
        // A room message's leaf uses the send time and ciphertext of the record as published.
        ...(sent.ciphertextHash === undefined ? {} : { ciphertextHash: sent.ciphertextHash }),
        ...(sent.devices === undefined ? {} : { delivery: sent.devices }),
        sentFrom: item.id,
      })
      // History before outbox: a reload between the two finds it sent (`sentFrom`), never unsent.
      await signedIn.store.flush()
      await outbox.remove((pending) => pending.id === item.id)
      this.#changed()
    }
  }

  /** Sends a pending reaction, edit or delete; false when it could not go yet (tried again later). */
  async #sendQueuedChange(client: SecureChatClient, view: ConversationView, item: PendingChange): Promise<boolean> {
    const outbox = this.#outbox
    try {
      const target = view.kind === 'room' ? client.room(view.id) : client.dm(view.id)
      if (target === undefined) throw new Error('this room is not joined yet')
      await sendChange(target, item.change)
    } catch (err) {
      if (!isRefusedForGood(err)) {
        this.#retryLater(item.id, err)
        return false
      }
      console.warn('a pending change was refused and dropped:', describeError(err))
    }
    this.#sendProblems.delete(item.id)
    await outbox?.remove((pending) => pending.id === item.id)
    this.#changed()
    return true
  }

  /** Why outbox item `id` did not go; the outbox is tried again after {@link SEND_RETRY_MS}. */
  #retryLater(id: string, err: unknown): void {
    this.#sendProblems.set(id, describeSendProblem(err))
    this.#retryTimer ??= setTimeout(() => {
      this.#retryTimer = undefined
      this.#flush()
    }, SEND_RETRY_MS)
    this.#changed()
  }

  /**
   * A message search found that this history does not hold (older than what it keeps): shown where its time puts
   * it, so a jump to it lands on it. Not counted unread.
   */
  showFound(id: string, entry: ChatEntry): void {
    const history = this.#history.get(id) ?? []
    if (!this.#views.has(id) || history.some((e) => e.id === entry.id)) return
    const at = history.findIndex((e) => e.sentAtMs > entry.sentAtMs)
    history.splice(at === -1 ? history.length : at, 0, entry)
    this.#history.set(id, history)
    this.#changed()
  }

  markRead(id: string): void {
    const view = this.#views.get(id)
    if (view === undefined || view.unread === 0) return
    view.unread = 0
    view.lastReadMs = Date.now()
    void this.#saveIndex()
    this.#changed()
  }

  /**
   * Another device of this wallet read conversation `id` up to message `upTo` (`state/signals.ts`): what came after
   * it from others stays unread here; a message this device has not received yet read means everything here is. It
   * only ever lowers the count: this device may have read further itself.
   */
  markReadUpTo(id: string, upTo: string): void {
    const view = this.#views.get(id)
    if (view === undefined) return
    const history = this.#history.get(id) ?? []
    const at = history.findIndex((entry) => entry.id === upTo)
    const after = at === -1 ? 0 : history.slice(at + 1).filter((entry) => !entry.mine).length
    const unread = Math.min(view.unread, after)
    if (unread === view.unread) return
    view.unread = unread
    view.lastReadMs = Date.now()
    void this.#saveIndex()
    this.#changed()
  }

  /** The invite link of a joined room: opening it in SecureChat joins the room. */
  inviteLink(id: string): string | undefined {
    const invite = this.#views.get(id)?.invite
    return invite === undefined ? undefined : `${location.origin}/#invite=${encodeURIComponent(invite)}`
  }

  /** A message passed every anchor check: it keeps the anchor, so a reload shows the mark without asking again. */
  recordAnchor(id: string, entry: ChatEntry, anchor: VerifiedAnchor): void {
    entry.anchor = anchor
    this.#signedIn?.store.saveHistory(id, this.history(id))
    this.#changed()
  }

  /** Joins again a room a moderator removed this wallet from (it may, if it still passes the room's gate). */
  async rejoin(id: string): Promise<void> {
    const view = this.#views.get(id)
    const client = this.#requireClient()
    if (view === undefined || view.state !== 'removed') return
    view.state = 'joining'
    view.sanction = undefined
    this.#changed()
    await this.#rejoin(client, view)
    await this.#saveIndex()
    this.#changed()
  }

  /**
   * Why this wallet may not write in room `id` now (muted until a time, a read-only lock, a lock that does not list
   * it), in the sdk's words; undefined when it may.
   */
  restriction(id: string): ReturnType<Room['sendRestriction']> {
    return this.#client?.room(id)?.sendRestriction()
  }

  /** The signed-in wallet's role in room `id` as its moderation log says; undefined for a room not running here. */
  roleIn(id: string): ModerationRole | undefined {
    const self = this.#signedIn?.address
    const room = this.#client?.room(id)
    return self === undefined || room === undefined ? undefined : room.moderation.roleOf(self)
  }

  /**
   * A moderation event kept in `room`: this wallet's standing follows the log. A ban shows as `banned` (and an unban
   * lifts it); a kick signed after this device (re)joined stops the room, shown as `removed` until it rejoins — a
   * kick from before was undone by the presence this device sent since.
   */
  #onModeration(room: Room, verdict: RoomModerationChange): void {
    const view = this.#views.get(room.id)
    const self = this.#signedIn?.address
    if (view === undefined || self === undefined) return
    this.#followLog(room, view, self)
    if (verdict.status === 'applied') {
      const { action, target, author, atMs } = verdict.event
      // The owner changed the gate: the requirement shown is said again from the new rule.
      if (action === 'gate') this.#requirements.delete(room.id)
      const joinedAtMs = this.#joinedAtMs.get(room.id) ?? 0
      if (action === 'kick' && sameAddress(target, self) && atMs >= joinedAtMs && view.state !== 'banned') {
        view.state = 'removed'
        view.sanction = { by: author, atMs }
        void this.#client?.stopRoom(room.id)
        void this.#saveIndex()
      }
    }
    this.#changed()
  }

  /**
   * What the room's log says of this wallet now: banned, or muted until a time. Also as a room is watched: a log the
   * vault kept is taken up with no `moderation:changed` (the sdk tells only what is new).
   */
  #followLog(room: Room, view: ConversationView, self: string): void {
    this.#followBan(room, view, self)
    // A mute of this wallet ends by the clock, not by an event: the composer comes back then.
    const mutedUntil = room.moderation.muteOf(self)?.untilMs ?? 0
    if (mutedUntil > Date.now()) setTimeout(() => this.#changed(), mutedUntil - Date.now() + 1)
  }

  /** `banned` while the log bans this wallet, with who did it; back to `joined` once unbanned. */
  #followBan(room: Room, view: ConversationView, self: string): void {
    const log = room.moderation
    if (log.isBanned(self)) {
      const ban = log
        .entries()
        .findLast((entry) => entry.applied && entry.event.action === 'ban' && sameAddress(entry.event.target, self))
      view.state = 'banned'
      view.sanction = ban === undefined ? undefined : { by: ban.event.author, atMs: ban.event.atMs }
    } else if (view.state === 'banned') {
      view.state = 'joined'
      view.sanction = undefined
      this.#flush()
    }
  }

  async #rejoin(client: SecureChatClient, view: ConversationView): Promise<void> {
    if (view.invite === undefined) return
    try {
      const room = await client.joinRoom(view.invite, { catchUp: 'later' })
      this.#watchRoom(room)
      view.state = 'joined'
      view.problem = undefined
      this.#catchUp(client, room)
      this.#flush()
    } catch (err) {
      view.state = err instanceof NotEligibleError ? 'not-eligible' : 'error'
      view.problem =
        err instanceof NotEligibleError ? notEligibleSentence(gateOf(view), err.message) : describeError(err)
    }
  }

  /** Catches `room` up from the relays' stores (joined with `catchUp: 'later'`), its progress shown on its view. */
  #catchUp(client: SecureChatClient, room: Room): void {
    const view = this.#views.get(room.id)
    if (view !== undefined) view.catchingUp = { delivered: 0, fetched: undefined, sinceMs: Date.now() }
    this.#changed()
    client
      .catchUp(room)
      .catch(() => {}) // no store answered: live messages flow all the same
      .finally(() => {
        const done = this.#views.get(room.id)
        if (done === undefined) return
        done.catchingUp = undefined
        this.#changed()
      })
  }

  #addRoom(room: Room, invite: string): void {
    const existing = this.#views.get(room.id)
    if (existing !== undefined && existing.state === 'joined') return
    this.#views.set(room.id, {
      kind: 'room',
      id: room.id,
      name: room.manifest.manifest.name,
      invite,
      lastReadMs: Date.now(),
      unread: 0,
      state: 'joined',
      problem: undefined,
      sanction: undefined,
      members: room.members(),
      catchingUp: undefined,
    })
    this.#flush()
    if (!this.#history.has(room.id)) this.#history.set(room.id, [])
    this.#watchRoom(room)
    void this.#saveIndex()
    this.#changed()
  }

  #watchRoom(room: Room): void {
    this.#joinedAtMs.set(room.id, Date.now())
    const onMessage = (event: CustomEvent<RoomMessage>): void => {
      const m = event.detail
      this.#append(
        room.id,
        {
          id: m.id,
          sender: m.sender,
          text: m.text,
          sentAtMs: m.sentAtMs,
          receivedAtMs: m.receivedAtMs,
          mine: false,
          state: 'ok',
          ciphertextHash: m.ciphertextHash,
          ...messageFields(m.parentId, room.message(m.id), m.mentions, m.file),
        },
        m,
      )
    }
    const onUndecryptable = (event: CustomEvent<UndecryptableMessage>): void => {
      const m = event.detail
      this.#append(
        room.id,
        {
          id: m.id,
          sender: m.sender,
          text: '',
          sentAtMs: m.sentAtMs,
          receivedAtMs: Date.now(),
          mine: false,
          state: 'undecryptable',
          reason: m.reason,
          ciphertextHash: m.ciphertextHash,
        },
        m,
      )
    }
    const onMembers = (): void => {
      const view = this.#views.get(room.id)
      if (view === undefined) return
      view.members = room.members()
      this.#changed()
    }
    // Also the catch-ups the sdk runs by itself, when a relay with a store (re)connects.
    const onProgress = (event: CustomEvent<HistoryProgress>): void => {
      const view = this.#views.get(room.id)
      if (view === undefined) return
      view.catchingUp = catchingUpOf(event.detail, view.catchingUp)
      this.#changed()
    }
    room.addEventListener('message:received', onMessage)
    room.addEventListener('message:undecryptable', onUndecryptable)
    room.addEventListener('message:updated', (event) => this.#onUpdated(room.id, event.detail))
    this.#reconcile(room.id, room)
    this.#detach.push(this.timers.watchRoom(room))
    room.addEventListener('history:progress', onProgress)
    room.addEventListener('history:gap', (event) => this.#onGap(room.id, event.detail))
    room.addEventListener('member:joined', onMembers)
    room.addEventListener('member:left', onMembers)
    room.addEventListener('access:changed', (event) => {
      const view = this.#views.get(room.id)
      if (view === undefined) return
      view.state = event.detail.eligible ? 'joined' : 'not-eligible'
      view.problem = event.detail.eligible ? undefined : notEligibleSentence(room.gateRule, event.detail.reason)
      const self = this.#signedIn?.address
      if (self !== undefined) this.#followBan(room, view, self)
      this.#changed()
    })
    room.addEventListener('moderation:changed', (event) => this.#onModeration(room, event.detail))
    // A log is there only if the vault kept one (a vault of an earlier version has none: the stores' log will tell).
    const view = this.#views.get(room.id)
    const self = this.#signedIn?.address
    if (view !== undefined && self !== undefined && room.moderation.entries().length > 0)
      this.#followLog(room, view, self)
    onMembers()
  }

  #watchDms(client: SecureChatClient): void {
    const dms = client.dms
    const onMessage = (event: CustomEvent<DirectMessage>): void => {
      const m = event.detail
      const id = this.openDm(m.conversation)
      this.#append(
        id,
        {
          id: m.id,
          sender: m.sender,
          text: m.text,
          sentAtMs: m.sentAtMs,
          receivedAtMs: m.receivedAtMs,
          mine: m.direction === 'out',
          state: 'ok',
          ...messageFields(m.parentId, dms.message(m.conversation, m.id), m.mentions, m.file),
        },
        m,
      )
    }
    const onUpdated = (event: CustomEvent<DmMessageUpdate>): void => {
      this.#onUpdated(this.openDm(event.detail.conversation), event.detail)
    }
    // A device's receipt: the message reached it (also one sent before a reload, kept with its devices).
    const onDelivered = (event: CustomEvent<DmDelivered>): void => {
      const { id, conversation, address, peerId } = event.detail
      if (address !== conversation) return // one of this wallet's own devices got its copy
      const entry = this.#history.get(conversation)?.find((e) => e.id === id && e.mine)
      if (entry === undefined) return
      const devices = (entry.delivery ?? []).filter((d) => d.peerId !== peerId)
      entry.delivery = [...devices, { peerId, status: 'delivered' }]
      const store = this.#signedIn?.store
      store?.saveHistory(conversation, this.history(conversation))
      // Written at once, not after the store's delay: a receipt's ids come together, one write for all of them.
      this.#savingDelivered ??= Promise.resolve().then(() => {
        this.#savingDelivered = undefined
        return store?.flush()
      })
      this.#changed()
    }
    // A gap in what the other wallet's devices sent (this wallet's own other devices' copies belong to no DM here).
    const onGap = (event: CustomEvent<DmHistoryGap>): void => {
      const sender = getAddress(event.detail.sender)
      if (sender.toLowerCase() === this.#signedIn?.address.toLowerCase()) return
      this.#onGap(this.openDm(sender), event.detail)
    }
    // One catch-up for every DM (start, a relay with a store connecting): each DM shows it as a room shows its own.
    const onProgress = (event: CustomEvent<DmHistoryProgress>): void => {
      this.#dmCatchingUp = catchingUpOf(event.detail, this.#dmCatchingUp)
      for (const view of this.#views.values()) if (view.kind === 'dm') view.catchingUp = this.#dmCatchingUp
      this.#changed()
    }
    for (const view of this.#views.values()) {
      if (view.kind === 'dm') this.#reconcile(view.id, client.dm(view.id))
    }
    dms.addEventListener('message:received', onMessage)
    dms.addEventListener('message:delivered', onDelivered)
    dms.addEventListener('message:updated', onUpdated)
    dms.addEventListener('history:progress', onProgress)
    dms.addEventListener('history:gap', onGap)
    const dmIds = [...this.#views.values()].filter((view) => view.kind === 'dm').map((view) => view.id)
    this.#detach.push(this.timers.watchDms(dms, (address) => this.openDm(address), dmIds))
    this.#detach.push(() => {
      dms.removeEventListener('message:received', onMessage)
      dms.removeEventListener('message:delivered', onDelivered)
      dms.removeEventListener('message:updated', onUpdated)
      dms.removeEventListener('history:progress', onProgress)
      dms.removeEventListener('history:gap', onGap)
    })
  }

  /**
   * A gap opened, was given up on, or was filled (`history:gap`, also for one lost before). A filled one's line goes
   * at once; its message, which the sdk delivers next saying where it belongs (`before`), takes its place.
   */
  #onGap(conversation: string, gap: GapReport): void {
    const gaps = this.#gaps.get(conversation) ?? new Map<string, OpenGap>()
    if (gap.state === 'filled') {
      gaps.delete(gap.id)
    } else {
      gaps.set(gap.id, { state: gap.state, before: gap.before })
    }
    if (gaps.size === 0) this.#gaps.delete(conversation)
    else this.#gaps.set(conversation, gaps)
    this.#changed()
  }

  /** `arrival`: where the sdk says a message that came late belongs (`before`), and what it names (`deps`). */
  #append(
    id: string,
    entry: ChatEntry,
    arrival: { before: string | undefined; deps?: readonly string[] } = NOT_LATE,
  ): void {
    const history = this.#history.get(id) ?? []
    const known = history.findIndex((e) => e.id === entry.id)
    // A key that arrived late opens a message shown as undecryptable (the sdk then sends
    // `message:received` for it): the message takes its place.
    const opened = known >= 0 && history[known]!.state === 'undecryptable' && entry.state === 'ok'
    if (known >= 0 && !opened) return
    if (opened) {
      history[known] = entry
    } else {
      this.#placement.place(history, entry, arrival.before, arrival.deps ?? [])
    }
    // Memory holds what the vault keeps, no more.
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT)
    this.#history.set(id, history)
    const view = this.#views.get(id)
    if (view !== undefined && !entry.mine && !opened) view.unread += 1
    this.#signedIn?.store.saveHistory(id, history)
    this.dispatchEvent(new CustomEvent('message:added', { detail: { conversation: id, entry } }))
    this.#changed()
  }

  /** DMs, and how far each conversation was read; rooms themselves are the sdk's to keep. */
  async #saveIndex(): Promise<void> {
    const store: HistoryStore | undefined = this.#signedIn?.store
    const saved = [...this.#views.values()].flatMap((view): SavedConversation[] => {
      if (view.id.startsWith(PENDING_PREFIX)) return []
      return view.kind === 'dm'
        ? [{ kind: 'dm', id: view.id, name: view.name, lastReadMs: view.lastReadMs }]
        : [
            {
              kind: 'room',
              id: view.id,
              lastReadMs: view.lastReadMs,
              ...(view.state === 'removed' && view.sanction !== undefined ? { removed: view.sanction } : {}),
            },
          ]
    })
    await store?.saveConversations(saved)
  }

  #requireClient(): SecureChatClient {
    if (this.#client === undefined) throw new Error('not connected yet: waiting for a relay')
    return this.#client
  }

  /** A deleted message's file leaves its entry (the key with it) and the page: {@link #filesGone}. */
  #dropFile(entry: ChatEntry): void {
    this.#filesGone([entry])
    delete entry.file
  }

  /**
   * Entries leaving the page (deleted, disappeared, their conversation left): `files:gone` names those that shared a
   * file, so what the page made of them (a fetched preview, a thumbnail's `blob:` URL) is let go (`files.ts`).
   */
  #filesGone(entries: readonly ChatEntry[]): void {
    const messageIds = entries.filter((entry) => entry.file !== undefined).map((entry) => entry.id)
    if (messageIds.length > 0) this.dispatchEvent(new CustomEvent('files:gone', { detail: { messageIds } }))
  }

  #changed(): void {
    this.#changeTimer ??= setTimeout(() => {
      this.#changeTimer = undefined
      this.dispatchEvent(new Event('conversations:changed'))
    }, CHANGE_BATCH_MS)
  }
}

/**
 * What an arriving message adds to its history entry: what it replies to, whom it mentions, and whether it was
 * edited or deleted before it came (history catch-up delivers in any order; the sdk's text and mentions are then the
 * latest, or none).
 */
function messageFields(
  parentId: string | undefined,
  state: MessageState | undefined,
  mentions: readonly string[],
  file?: FileManifest,
): Partial<ChatEntry> {
  return {
    ...(parentId === undefined ? {} : { parentId }),
    ...(file === undefined || state?.deleted === true ? {} : { file }),
    ...(state?.deleted === true ? {} : mentionFields(state?.edited === true ? state.mentions : mentions)),
    ...(state?.edited === true ? { edited: true, text: state.text ?? '' } : {}),
    ...(state?.deleted === true ? { deleted: true, text: '' } : {}),
    ...(state?.removedBy === undefined ? {} : { removedBy: state.removedBy }),
  }
}

/** The root of message `id`'s thread: the first of its parents the history has no parent for. */
function threadRoot(parents: ReadonlyMap<string, string | undefined>, id: string): string {
  let at = id
  // Bounded: a parent chain as long as the history at most, and never round in a circle.
  for (let i = 0; i <= parents.size; i++) {
    const parent = parents.get(at)
    if (parent === undefined) return at
    at = parent
  }
  return at
}

/**
 * A catch-up's progress as a view shows it: gone once it is done, or when the stores had nothing; begun when `running`
 * (the view's until now) began, or now.
 */
function catchingUpOf(
  progress: HistoryProgress | DmHistoryProgress,
  running: CatchingUp | undefined,
): CatchingUp | undefined {
  const { done, fetched, delivered, undecryptable } = progress
  if (done || fetched === 0) return undefined
  return { delivered: delivered + undecryptable, fetched, sinceMs: running?.sinceMs ?? Date.now() }
}

/** The other wallet's devices a DM went to (its copies to this wallet's other devices are not counted). */
function peerDevices(peer: string, devices: readonly DmDeviceStatus[]): DeviceDelivery[] {
  return devices.filter((d) => d.address === peer).map((d) => ({ peerId: d.peerId, status: d.status }))
}

function dmView(id: string, name: string, lastReadMs: number, catchingUp: CatchingUp | undefined): ConversationView {
  return {
    kind: 'dm',
    id,
    name,
    invite: undefined,
    lastReadMs,
    unread: 0,
    state: 'joining',
    problem: undefined,
    sanction: undefined,
    members: [],
    catchingUp,
  }
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}
