import { MAX_MODERATION_EVENTS, MAX_PENDING_MODERATION_EVENTS } from '../constants.ts'
import { firstIssue } from '../json-records.ts'
import type { Address, GateRule } from '../types.ts'
import {
  foreignGateChains,
  isSignedByAuthor,
  type ModerationEvent,
  moderationEventHash,
  moderationEventSchema,
  normalAddress,
} from './moderation-event.ts'

/**
 * A room's moderation log (docs/architecture.md, Moderation): the events every honest peer and relay holds, and the
 * state they fold to. The state is a function of the SET of events held, never of the order they came in, so every
 * peer holding the same events agrees:
 *
 * - An event is kept only if it is well formed, names this room, is signed by its author, its `prev` is here
 *   (else it waits, `pending`) and its author held the role for it in the state of its own chain (root … prev):
 *   what the author saw. Anything else is refused with the reason, and never stored or forwarded.
 * - Kept events form a tree (each names one `prev`). It is read in one order: depth first from the room id, the
 *   children of an event lowest author rank first, then by event hash; so at a fork the owner's branch comes last
 *   and its action on a member stands over a moderator's concurrent one.
 * - An event concurrent with (neither before nor after, in the tree) a revocation of its author — the owner's
 *   `mod-remove` or `ban` of that moderator, or that owner's own `owner-transfer` — is void: a removed moderator
 *   cannot act by forking from before its removal, and an owner's removal wins over what the moderator did at once.
 * - The rest apply in that order, each judged against the state so far (role, and a target ranked below the author).
 */

export type ModerationRole = 'owner' | 'moderator' | 'member'
const RANK: Record<ModerationRole, number> = { owner: 2, moderator: 1, member: 0 }

export interface ModerationState {
  readonly owner: Address
  readonly moderators: ReadonlySet<Address>
  readonly banned: ReadonlySet<Address>
  /** Members kicked, with the hash of the latest kick of each: a member's presence signed before it is stale. */
  readonly kicked: ReadonlyMap<Address, string>
  /** Members muted by the latest mute of each (not unmuted since), ended or not: the log knows no clock. */
  readonly muted: ReadonlyMap<Address, Mute>
  /** The lock in force, if the room is locked. */
  readonly lock: Lock | undefined
  /** The latest `gate` event's rule (undefined in it: the gate is lifted); none yet, the manifest's access holds. */
  readonly gate: GateChange | undefined
}

export interface GateChange {
  hash: string
  /** The room's token gate from this event on; undefined: open (no token asked). */
  rule: GateRule | undefined
}

export interface Mute {
  /** The mute's event time: a record dated from then until `untilMs` is dropped, whenever it comes. */
  atMs: number
  untilMs: number
  hash: string
}

export interface Lock {
  hash: string
  readOnly: boolean
  /**
   * The members its author listed, less those kicked or banned since: with the roles, whom the room admits. In lower
   * case: checksumming a thousand addresses (a keccak each) on every lock, forged ones included, costs ~100 ms.
   */
  admitted: ReadonlySet<string>
}

export type ModerationVerdict =
  | { status: 'applied'; hash: string; event: ModerationEvent }
  /** Kept, but the fold did not apply it (void, or no effect allowed at its place): `reason`. */
  | { status: 'void'; hash: string; event: ModerationEvent; reason: string }
  | { status: 'duplicate'; hash: string }
  /** Its `prev` is not here yet: kept aside until it comes. */
  | { status: 'pending'; hash: string }
  | { status: 'refused'; reason: string }

export interface ModerationEntry {
  hash: string
  event: ModerationEvent
  applied: boolean
  /** Why it did not apply. */
  reason?: string
}

/** An event's action with its addresses normalised once (checksumming hashes: not per read of the tree). */
interface Act {
  action: ModerationEvent['action']
  author: Address
  target: Address
  atMs: number
  until: number | undefined
  readOnly: boolean
  /** Lower case ({@link Lock.admitted}). */
  members: readonly string[]
  rule: GateRule | undefined
}

interface Node extends Act {
  hash: string
  event: ModerationEvent
  depth: number
  children: string[]
}

interface MutableState {
  owner: Address
  moderators: Set<Address>
  banned: Set<Address>
  kicked: Map<Address, string>
  muted: Map<Address, Mute>
  lock: { hash: string; readOnly: boolean; admitted: Set<string> } | undefined
  gate: GateChange | undefined
}

export interface ModerationLogInit {
  roomId: string
  /** The manifest's owner: the first owner. */
  owner: string
  /**
   * The manifest's chain ids: a `gate` event's rule reads no other chain (a peer or relay cannot judge a chain it
   * was never asked to read). Undefined: not checked (an audit knowing only the owner).
   */
  chainIds?: readonly number[]
}

export class ModerationLog {
  readonly roomId: string
  readonly #firstOwner: Address
  readonly #chainIds: readonly number[] | undefined
  readonly #nodes = new Map<string, Node>()
  readonly #rootChildren: string[] = []
  /** Kept events that revoke their target's or author's role: what can void a concurrent event. */
  readonly #revocations: Node[] = []
  /** Events waiting for their `prev`, by it, with their hashes (their signatures checked once, as they came). */
  readonly #pending = new Map<string, Array<{ hash: string; event: ModerationEvent }>>()
  readonly #pendingHashes = new Set<string>()
  #entries: ModerationEntry[] = []
  #state: MutableState

  constructor(init: ModerationLogInit) {
    this.roomId = init.roomId
    this.#firstOwner = normalAddress(init.owner)
    this.#chainIds = init.chainIds
    this.#state = this.#initial()
  }

  get state(): ModerationState {
    return this.#state
  }

  /** The hash the next event names as `prev`: the last event in the log's order, or the room id. */
  get head(): string {
    return this.#entries.at(-1)?.hash ?? this.roomId
  }

  /** Every kept event in the log's order, with whether it applied. */
  entries(): readonly ModerationEntry[] {
    return this.#entries
  }

  /** The kept events, in the log's order (what a peer hands a late joiner: parents before children). */
  events(): ModerationEvent[] {
    return this.#entries.map((entry) => entry.event)
  }

  has(hash: string): boolean {
    return this.#nodes.has(hash)
  }

  roleOf(address: string): ModerationRole {
    return roleIn(this.#state, normalAddress(address))
  }

  /**
   * Why `author` may not take `action` on `target` now, or undefined when it may: the rule the log judges a new event
   * by, so an app offers only the actions a role allows (and says why not) without a copy of it.
   */
  refusal(author: string, action: ModerationEvent['action'], target: string): string | undefined {
    // The rule reads roles and targets only: what a mute's end or a lock's list would be does not change it.
    const act = { action, author: normalAddress(author), target: normalAddress(target) }
    return judge(this.#state, { ...act, atMs: 0, until: undefined, readOnly: false, members: [], rule: undefined })
  }

  isBanned(address: string): boolean {
    return this.#state.banned.size > 0 && this.#state.banned.has(normalAddress(address))
  }

  /** The latest kick of `address` that applied, if any: its presence signed before it is stale. */
  kickOf(address: string): ModerationEvent | undefined {
    if (this.#state.kicked.size === 0) return undefined
    const hash = this.#state.kicked.get(normalAddress(address))
    return hash === undefined ? undefined : this.#nodes.get(hash)?.event
  }

  /** The latest mute of `address` not undone by an unmute, ended or not (whether it holds is the caller's clock's). */
  muteOf(address: string): Mute | undefined {
    return this.#state.muted.size === 0 ? undefined : this.#state.muted.get(normalAddress(address))
  }

  /** Whether the room's lock keeps `address` out: a member its lock does not list (the roles always come in). */
  isLockedOut(address: string): boolean {
    const lock = this.#state.lock
    if (lock === undefined) return false
    const normal = normalAddress(address)
    return roleIn(this.#state, normal) === 'member' && !lock.admitted.has(normal.toLowerCase())
  }

  /** Whether a read-only lock silences `address` (a member; the owner and moderators still speak). */
  isSilencedByLock(address: string): boolean {
    return this.#state.lock?.readOnly === true && roleIn(this.#state, normalAddress(address)) === 'member'
  }

  /** Judges an event from the network (checked with zod here) and keeps it if it may be. Never throws. */
  add(input: unknown): ModerationVerdict {
    const parsed = moderationEventSchema.safeParse(input)
    if (!parsed.success) return { status: 'refused', reason: `malformed event: ${firstIssue(parsed.error, 'event')}` }
    const event = parsed.data
    if (event.room !== this.roomId) return { status: 'refused', reason: 'event names another room' }
    const foreign = this.#chainIds === undefined ? [] : foreignGateChains(event, this.#chainIds)
    if (foreign.length > 0) {
      return { status: 'refused', reason: `gate reads chain ${foreign.join(', ')}, not one of the room's` }
    }
    const hash = moderationEventHash(event)
    if (this.#nodes.has(hash)) return { status: 'duplicate', hash }
    // Held already, its signature checked: a store's or a neighbour's copy again costs no recovery (2.7 ms).
    if (this.#pendingHashes.has(hash)) return { status: 'pending', hash }
    if (!isSignedByAuthor(event)) return { status: 'refused', reason: 'event is not signed by its author' }
    if (this.#nodes.size >= MAX_MODERATION_EVENTS) {
      return { status: 'refused', reason: `the log holds ${MAX_MODERATION_EVENTS} events already` }
    }
    if (event.prev !== this.roomId && !this.#nodes.has(event.prev)) {
      if (this.#pendingHashes.size >= MAX_PENDING_MODERATION_EVENTS) {
        return { status: 'refused', reason: 'previous event unknown (broken chain)' }
      }
      const waiting = this.#pending.get(event.prev) ?? []
      waiting.push({ hash, event })
      this.#pending.set(event.prev, waiting)
      this.#pendingHashes.add(hash)
      return { status: 'pending', hash }
    }
    const refusal = this.#checkOnChain(event)
    if (refusal !== undefined) return { status: 'refused', reason: refusal }
    this.#insert(hash, event)
    this.#releasePending(hash)
    this.#fold()
    const entry = this.#entries.find((candidate) => candidate.hash === hash)
    return entry?.applied === false
      ? { status: 'void', hash, event, reason: entry.reason ?? 'void' }
      : { status: 'applied', hash, event }
  }

  /** Events still waiting for their `prev`: at the end of a catch-up, a broken chain. */
  get pendingCount(): number {
    return this.#pendingHashes.size
  }

  #initial(): MutableState {
    return {
      owner: this.#firstOwner,
      moderators: new Set(),
      banned: new Set(),
      kicked: new Map(),
      muted: new Map(),
      lock: undefined,
      gate: undefined,
    }
  }

  #insert(hash: string, event: ModerationEvent): void {
    const parent = event.prev === this.roomId ? undefined : this.#nodes.get(event.prev)
    const node: Node = { ...actOf(event), hash, event, depth: (parent?.depth ?? 0) + 1, children: [] }
    this.#nodes.set(hash, node)
    ;(parent?.children ?? this.#rootChildren).push(hash)
    if (node.action === 'mod-remove' || node.action === 'ban' || node.action === 'owner-transfer') {
      this.#revocations.push(node)
    }
  }

  #releasePending(hash: string): void {
    const waiting = this.#pending.get(hash)
    if (waiting === undefined) return
    this.#pending.delete(hash)
    for (const { hash: child, event } of waiting) {
      this.#pendingHashes.delete(child)
      if (this.#nodes.has(child) || this.#nodes.size >= MAX_MODERATION_EVENTS) continue
      if (this.#checkOnChain(event) !== undefined) continue
      this.#insert(child, event)
      this.#releasePending(child)
    }
  }

  /** The state of the event's own chain, root … prev: the author must hold the role in it. */
  #chainState(prev: string): MutableState {
    const chain: Node[] = []
    for (let node = this.#nodes.get(prev); node !== undefined; node = this.#nodes.get(node.event.prev)) {
      chain.push(node)
    }
    const state = this.#initial()
    for (const node of chain.reverse()) apply(state, node, node.hash)
    return state
  }

  #checkOnChain(event: ModerationEvent): string | undefined {
    return judge(this.#chainState(event.prev), actOf(event))
  }

  /** Re-reads the whole tree in the log's order (a log is small; this keeps the state a function of the set). */
  #fold(): void {
    const order: Node[] = []
    // `chain`: the state of the parent's own chain, which every sibling's author saw; ranks are read in it.
    const visit = (children: readonly string[], chain: MutableState): void => {
      const nodes = children.map((hash) => this.#nodes.get(hash) as Node)
      nodes.sort((a, b) => RANK[roleIn(chain, a.author)] - RANK[roleIn(chain, b.author)] || (a.hash < b.hash ? -1 : 1))
      for (const node of nodes) {
        order.push(node)
        if (node.children.length === 0) continue
        const own = nodes.length === 1 ? chain : copy(chain)
        apply(own, node, node.hash)
        visit(node.children, own)
      }
    }
    visit(this.#rootChildren, this.#initial())
    const state = this.#initial()
    this.#entries = order.map((node) => {
      const reason = this.#voidedBy(node) ?? judge(state, node)
      if (reason !== undefined) return { hash: node.hash, event: node.event, applied: false, reason }
      apply(state, node, node.hash)
      return { hash: node.hash, event: node.event, applied: true }
    })
    this.#state = state
  }

  /** Why `node` is void: a revocation of its author concurrent with it. */
  #voidedBy(node: Node): string | undefined {
    for (const other of this.#revocations) {
      const revoked = other.action === 'owner-transfer' ? other.author : other.target
      if (revoked !== node.author || other === node) continue
      if (this.#isAncestor(other, node) || this.#isAncestor(node, other)) continue
      return `its author's role was revoked concurrently (${other.event.action} ${other.hash.slice(0, 12)})`
    }
    return undefined
  }

  #isAncestor(ancestor: Node, of: Node): boolean {
    let node: Node | undefined = of
    while (node !== undefined && node.depth > ancestor.depth) node = this.#nodes.get(node.event.prev)
    return node === ancestor
  }
}

function actOf(event: ModerationEvent): Act {
  return {
    action: event.action,
    author: normalAddress(event.author),
    target: normalAddress(event.target),
    atMs: event.atMs,
    until: event.until,
    readOnly: event.readOnly === true,
    members: (event.members ?? []).map((address) => address.toLowerCase()),
    rule: event.rule,
  }
}

function copy(state: MutableState): MutableState {
  return {
    owner: state.owner,
    moderators: new Set(state.moderators),
    banned: new Set(state.banned),
    kicked: new Map(state.kicked),
    muted: new Map(state.muted),
    lock: state.lock === undefined ? undefined : { ...state.lock, admitted: new Set(state.lock.admitted) },
    gate: state.gate,
  }
}

function roleIn(state: MutableState, address: Address): ModerationRole {
  if (state.owner === address) return 'owner'
  return state.moderators.has(address) ? 'moderator' : 'member'
}

/** Why `event` may not apply to `state`, or undefined when it may. */
function judge(state: MutableState, event: Act): string | undefined {
  const { author, target } = event
  const role = roleIn(state, author)
  switch (event.action) {
    case 'mod-add':
    case 'mod-remove':
    case 'owner-transfer':
      if (role !== 'owner') return `${event.action} needs the owner; ${author} is a ${role}`
      if (target === author) return `the owner cannot ${event.action} itself`
      if (event.action === 'mod-remove' && !state.moderators.has(target)) return `${target} is not a moderator`
      // Every peer and relay drops a banned wallet's records: a role given to it could never be used, and a room
      // handed to it would have no owner who can act (no gate, timer or moderator could change again).
      if (event.action !== 'mod-remove' && state.banned.has(target)) return `${target} is banned: unban it first`
      return undefined
    case 'gate':
    case 'timer':
      // Whom the room is for is the owner's, as the manifest's gate was: a moderator acts on members within it. How
      // long what everyone writes lasts is the owner's too, as it was before the timer moved into the log.
      return role === 'owner' ? undefined : `${event.action} needs the owner; ${author} is a ${role}`
    case 'lock':
    case 'unlock':
      if (role === 'member') return `${event.action} needs a moderator; ${author} is a member`
      if (event.action === 'unlock' && state.lock === undefined) return 'the room is not locked'
      return undefined
    case 'kick':
    case 'ban':
    case 'unban':
    case 'mute':
    case 'unmute':
    case 'remove':
      if (role === 'member') return `${event.action} needs a moderator; ${author} is a member`
      if (event.action === 'unban') return state.banned.has(target) ? undefined : `${target} is not banned`
      if (event.action === 'unmute') return state.muted.has(target) ? undefined : `${target} is not muted`
      if (RANK[roleIn(state, target)] >= RANK[role]) {
        return `${withArticle(role)} cannot ${event.action} ${withArticle(roleIn(state, target))}`
      }
      return undefined
  }
}

/** {@link judge}'s refusals that are about the log's state, not the author's role: nothing to undo, or a ban in the way. */
const STATE_REFUSAL = / is not (banned|muted)$|^the room is not locked$| is banned: unban it first$/

/** Whether `reason`, a refusal of this log, is about its state (who is banned or muted, a lock) rather than a role. */
export function isStateRefusal(reason: string): boolean {
  return STATE_REFUSAL.test(reason)
}

/** "an owner", "a moderator", "a member". */
function withArticle(role: ModerationRole): string {
  return `${role === 'owner' ? 'an' : 'a'} ${role}`
}

function apply(state: MutableState, event: Act, hash: string): void {
  if (judge(state, event) !== undefined) return
  const { target } = event
  switch (event.action) {
    case 'mod-add':
      state.moderators.add(target)
      return
    case 'mod-remove':
      state.moderators.delete(target)
      return
    case 'owner-transfer':
      // The old owner becomes a plain member: keeping power after handing it over is what a transfer rules out.
      state.moderators.delete(target)
      state.owner = target
      return
    case 'kick':
      state.kicked.set(target, hash)
      // Out while locked: a kick removes, and the lock admits no one new.
      state.lock?.admitted.delete(target.toLowerCase())
      return
    case 'ban':
      state.moderators.delete(target)
      state.banned.add(target)
      state.lock?.admitted.delete(target.toLowerCase())
      return
    case 'unban':
      state.banned.delete(target)
      return
    case 'mute':
      state.muted.set(target, { atMs: event.atMs, untilMs: event.until as number, hash })
      return
    case 'unmute':
      state.muted.delete(target)
      return
    case 'lock':
      state.lock = { hash, readOnly: event.readOnly, admitted: new Set(event.members) }
      return
    case 'unlock':
      state.lock = undefined
      return
    case 'gate':
      state.gate = { hash, rule: event.rule }
      return
    case 'remove':
      // Nothing of the log's state: every device folds it into the message's own (`Room`, "removed by a moderator").
      return
    case 'timer':
      // Nothing of the log's state either: every device keeps the timer's changes beside its messages (`Room`).
      return
  }
}
