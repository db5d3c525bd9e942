import { getAddress, isAddress } from 'ethers'
import { z } from 'zod'
import { MAX_LOCK_MEMBERS, MAX_MUTE_MS, WIRE_VERSION } from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { describeTimer, timerSecondsSchema } from '../disappearing.ts'
import { canonicalJson, utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { conditionsOf, gateRuleKey, gateRuleSchema } from '../gates/rule.ts'
import { isEoaSignature } from '../identity/certificate.ts'
import type { WalletSigner } from '../identity/signer.ts'
import { recordTimeSchema, sha256HexSchema } from '../json-records.ts'
import type { AbortOptions, Address, GateRule } from '../types.ts'

/**
 * One event of a room's moderation log (docs/architecture.md, Moderation): an action, signed by its author's
 * wallet, naming the room and the hash of the event before it (the room id for the first). It travels as the
 * `moderation` record on the room topic, the record being the event itself. The wallet signs it (not the
 * device's session key, as presence and keys are) because the log must stay verifiable after every session
 * certificate has expired: a member joining a year later checks the whole log from the signatures alone.
 */
export const MODERATION_ACTIONS = [
  'mod-add',
  'mod-remove',
  'owner-transfer',
  'kick',
  'ban',
  'unban',
  'mute',
  'unmute',
  'lock',
  'unlock',
  'remove',
  'gate',
  'timer',
] as const
export type ModerationAction = (typeof MODERATION_ACTIONS)[number]

/** Actions about the room itself: their `target` is their author (the schema keeps one shape for every event). */
export const ROOM_ACTIONS: ReadonlySet<ModerationAction> = new Set(['lock', 'unlock', 'gate', 'timer'])

const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte address')

/**
 * The fields each action needs beyond the common ones, and no other: added as optional fields, so that an event
 * signed before they existed keeps its canonical JSON, and so its hash and signature.
 */
const EXTRA_FIELDS = ['until', 'readOnly', 'members', 'message', 'rule', 'seconds'] as const
const REQUIRED: Partial<Record<ModerationAction, ReadonlyArray<(typeof EXTRA_FIELDS)[number]>>> = {
  mute: ['until'],
  lock: ['members'],
  remove: ['message'],
  timer: ['seconds'],
}
const ALLOWED: Partial<Record<ModerationAction, ReadonlyArray<(typeof EXTRA_FIELDS)[number]>>> = {
  mute: ['until'],
  lock: ['members', 'readOnly'],
  remove: ['message'],
  // A `gate` without a rule opens the room: no token is asked any more.
  gate: ['rule'],
  timer: ['seconds'],
}

/**
 * An event's shape, without the per-action rules: what the room topic's record union can hold (a refined schema is
 * no plain object). The log judges every event with {@link moderationEventSchema}, rules included.
 */
export const moderationEventShapeSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('moderation'),
    room: sha256HexSchema,
    /** The hash of the previous event ({@link moderationEventHash}); the room id for the first. */
    prev: sha256HexSchema,
    action: z.enum(MODERATION_ACTIONS),
    /**
     * The wallet the action is about: the new moderator or owner, the member kicked, banned, unbanned, muted or
     * unmuted, the author of the message removed; the author itself for `lock` and `unlock`.
     */
    target: addressSchema,
    author: addressSchema,
    atMs: recordTimeSchema,
    /** `mute`: when it ends (ms since the epoch), after `atMs` and at most {@link MAX_MUTE_MS} after it. */
    until: recordTimeSchema.optional(),
    /** `lock`: only the owner and moderators may send while it holds. */
    readOnly: z.literal(true).optional(),
    /** `lock`: the room's members as its author listed them, the only wallets (with the roles) it admits. */
    members: z.array(addressSchema).max(MAX_LOCK_MEMBERS).optional(),
    /** `remove`: the id of the message removed (its record's id); `target` is its author. */
    message: sha256HexSchema.optional(),
    /**
     * `gate`: the room's new token gate, in the manifest's gated rule's schema (bounded in conditions and depth);
     * absent, the gate is lifted. Its chains must be among the manifest's `chainIds` (the log checks, knowing them).
     */
    rule: gateRuleSchema.optional(),
    /**
     * `timer`: the room's disappearing-messages timer from `atMs` on, in seconds (0: off; `disappearing.ts`). In the
     * log, not in an encrypted message, so that a member who joins while the owner is away still learns it from the
     * stores (an encrypted change is under a sender key a newcomer never gets).
     */
    seconds: timerSecondsSchema.optional(),
    /** The author's wallet signature (EIP-191) over {@link moderationSigningText}. */
    sig: z.string().regex(/^0x(?:[0-9a-fA-F]{2}){65}$/, 'a 65-byte signature'),
  })
  .strict()

/** Per action: its own fields present, the others absent; a room action names its author; a mute is bounded. */
function checkAction(event: z.infer<typeof moderationEventShapeSchema>, ctx: z.RefinementCtx): void {
  const required = REQUIRED[event.action] ?? []
  const allowed = ALLOWED[event.action] ?? []
  for (const field of EXTRA_FIELDS) {
    const present = event[field] !== undefined
    if (!present && required.includes(field)) {
      ctx.addIssue({ code: 'custom', path: [field], message: `${event.action} needs ${field}` })
    } else if (present && !allowed.includes(field)) {
      ctx.addIssue({ code: 'custom', path: [field], message: `${event.action} takes no ${field}` })
    }
  }
  if (ROOM_ACTIONS.has(event.action) && event.target.toLowerCase() !== event.author.toLowerCase()) {
    ctx.addIssue({ code: 'custom', path: ['target'], message: `${event.action} names its author as target` })
  }
  if (event.until !== undefined && (event.until <= event.atMs || event.until - event.atMs > MAX_MUTE_MS)) {
    ctx.addIssue({ code: 'custom', path: ['until'], message: `a mute ends after it starts, within ${MAX_MUTE_MS} ms` })
  }
}

export const moderationEventSchema = moderationEventShapeSchema.superRefine(checkAction)
export type ModerationEvent = z.infer<typeof moderationEventShapeSchema>
export type UnsignedModerationEvent = Omit<ModerationEvent, 'sig'>

/** An event's hash: sha256 of its canonical JSON, signature included; what the next event's `prev` names. */
export function moderationEventHash(event: ModerationEvent): string {
  return sha256Hex(utf8.encode(canonicalJson(event)))
}

/** What the author's wallet shows and signs: readable, and bound to every field by the digest of the event. */
export function moderationSigningText(event: UnsignedModerationEvent): string {
  const digest = sha256Hex(utf8.encode(canonicalJson(event)))
  // What the new actions add is shown too (an event without them reads as it always did: its signature holds).
  const extra = [
    ...(event.until === undefined ? [] : [`until: ${new Date(event.until).toISOString()}`]),
    ...(event.readOnly === undefined ? [] : ['read-only: yes']),
    ...(event.members === undefined ? [] : [`members: ${event.members.length}`]),
    ...(event.message === undefined ? [] : [`message: ${event.message}`]),
    ...(event.action !== 'gate' ? [] : [`gate: ${event.rule === undefined ? 'open' : gateRuleKey(event.rule)}`]),
    ...(event.seconds === undefined ? [] : [`disappearing messages: ${describeTimer(event.seconds)}`]),
  ]
  return [
    'SecureChat moderation',
    `room: ${event.room}`,
    `action: ${event.action} ${event.target}`,
    ...extra,
    `after: ${event.prev}`,
    `event: ${digest}`,
  ].join('\n')
}

export interface CreateModerationEventParams {
  signer: WalletSigner
  room: string
  prev: string
  action: ModerationAction
  target: string
  /** `mute`: when it ends. */
  until?: number
  /** `lock`: read-only for everyone but the owner and moderators. */
  readOnly?: boolean
  /** `lock`: the room's members as the author knows them. */
  members?: readonly string[]
  /** `remove`: the message's id (`target` is its author). */
  message?: string
  /** `gate`: the new rule; absent, the gate is lifted. */
  rule?: GateRule
  /** `timer`: the disappearing-messages timer in seconds (0: off). */
  seconds?: number
  now?: number
}

/** The fields only some actions carry (`mute`'s end, `lock`'s list, …), as {@link createModerationEvent} takes them. */
export type ModerationActionFields = Pick<
  CreateModerationEventParams,
  'until' | 'readOnly' | 'members' | 'message' | 'rule' | 'seconds'
>

/**
 * `text` as a checksummed wallet address, or an `InvalidInputError` that says what an address looks like (a typo
 * reaches no one's wallet prompt). `what` names it in the error: "the target", "--author".
 */
export function walletAddress(text: string, what: string): Address {
  if (typeof text !== 'string' || !isAddress(text)) {
    throw new InvalidInputError(`${what} ${JSON.stringify(text)} is not a wallet address`, {
      details: { [what]: text },
      hint: 'a wallet address is 0x and 40 hexadecimal digits, all lower case or with its EIP-55 capitals right, e.g. 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    })
  }
  return getAddress(text) as Address
}

/** Signs a new event with the author's wallet. Whether the author may act is the log's to judge. */
export async function createModerationEvent(
  params: CreateModerationEventParams,
  options: AbortOptions = {},
): Promise<ModerationEvent> {
  const author = await params.signer.getAddress(options)
  const unsigned = moderationEventShapeSchema
    .omit({ sig: true })
    .superRefine((event, ctx) => checkAction({ ...event, sig: '' }, ctx))
    .parse({
      v: WIRE_VERSION,
      type: 'moderation',
      room: params.room,
      prev: params.prev,
      action: params.action,
      target: walletAddress(params.target, 'the target'),
      author,
      atMs: params.now ?? Date.now(),
      ...(params.until === undefined ? {} : { until: params.until }),
      ...(params.readOnly === true ? { readOnly: true } : {}),
      ...(params.members === undefined ? {} : { members: [...new Set(params.members.map((a) => getAddress(a)))] }),
      ...(params.message === undefined ? {} : { message: params.message }),
      ...(params.rule === undefined ? {} : { rule: params.rule }),
      ...(params.seconds === undefined ? {} : { seconds: params.seconds }),
    })
  const sig = await params.signer.signMessage(moderationSigningText(unsigned), options)
  return { ...unsigned, sig }
}

/**
 * Whether `event` is signed by its author. Offline, so externally owned accounts only (as a manifest in gossip
 * validation): a contract wallet cannot moderate yet (docs/architecture.md, Not built yet).
 */
export function isSignedByAuthor(event: ModerationEvent): boolean {
  const { sig, ...unsigned } = event
  return isEoaSignature(moderationSigningText(unsigned), sig, event.author)
}

/** An address in the one form the log compares: checksummed. */
export function normalAddress(address: string): Address {
  return getAddress(address) as Address
}

/** The chains a `gate` event's rule reads that `chainIds` (the manifest's) do not list: none, or it is refused. */
export function foreignGateChains(event: ModerationEvent, chainIds: readonly number[]): number[] {
  if (event.rule === undefined) return []
  return [...new Set(conditionsOf(event.rule).map((condition) => condition.chainId))].filter(
    (chainId) => !chainIds.includes(chainId),
  )
}
