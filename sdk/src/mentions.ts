/**
 * Mentions: a message names members as `@0x…` (a whole wallet address) in its text, and its envelope lists them
 * (`mentions`, inside the ciphertext: relays see none of it). Senders list what their text shows
 * ({@link mentionsIn}); receivers keep only what the text shows ({@link acceptMentions}), so a peer cannot notify
 * someone with a mention nobody can see, and a list longer than {@link MAX_MENTIONS} refuses the envelope (zod).
 * An edit carries the mentions of its own text: they replace the message's (`message-state.ts`).
 */
import { getAddress } from 'ethers'
import { z } from 'zod'
import { MAX_MENTIONS } from './constants.ts'
import { InvalidInputError } from './errors.ts'
import type { Address } from './types.ts'

/** `@` and a whole address: not inside a longer hex run, nor right after a letter or digit (an e-mail's `a@0x…`). */
const MENTION = /(?<![\p{L}\p{N}_])@(0x[0-9a-fA-F]{40})(?![0-9a-zA-Z_])/gu

/** The `mentions` of an envelope as the network may send it: addresses, at most {@link MAX_MENTIONS}. */
export const mentionListSchema = z
  .array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a mention is a wallet address (0x and 40 hex digits)'))
  .max(MAX_MENTIONS, `a message mentions at most ${MAX_MENTIONS} members`)

/** The wallets `text` mentions (`@0x…`), checksummed, each once, in the order they first appear. */
export function mentionsIn(text: string): Address[] {
  const found = new Map<string, Address>()
  for (const match of text.matchAll(MENTION)) {
    const address = match[1]!
    if (!found.has(address.toLowerCase())) found.set(address.toLowerCase(), checksum(address))
  }
  return [...found.values()]
}

/** `text` cut at its mentions, for display: plain strings, and each `@0x…` as it is written (`mention`). */
export function splitMentions(text: string): Array<string | { mention: string; address: Address }> {
  const parts: Array<string | { mention: string; address: Address }> = []
  let from = 0
  for (const match of text.matchAll(MENTION)) {
    if (match.index > from) parts.push(text.slice(from, match.index))
    parts.push({ mention: match[0], address: checksum(match[1]!) })
    from = match.index + match[0].length
  }
  if (from < text.length) parts.push(text.slice(from))
  return parts
}

/**
 * What a sender lists for `text`: its mentions, or nothing when it has none (the envelope then has no field).
 * Throws when it mentions more than {@link MAX_MENTIONS}: receivers would refuse the message.
 */
export function mentionsToSend(text: string): Address[] | undefined {
  const mentions = mentionsIn(text)
  if (mentions.length > MAX_MENTIONS) {
    throw new InvalidInputError('a message mentions too many members', {
      details: { mentions: mentions.length, max: MAX_MENTIONS },
      hint: `mention at most ${MAX_MENTIONS} members in one message`,
    })
  }
  return mentions.length === 0 ? undefined : mentions
}

/** A listed mention a receiver did not keep, and why (logged; the message itself counts). */
export interface DroppedMention {
  address: string
  reason: string
}

/**
 * The mentions a receiver keeps of a received envelope's list (already checked by {@link mentionListSchema}): those
 * its text shows, checksummed, each once. The others are dropped with a reason.
 */
export function acceptMentions(
  listed: readonly string[] | undefined,
  text: string,
): { mentions: Address[]; dropped: DroppedMention[] } {
  if (listed === undefined || listed.length === 0) return { mentions: [], dropped: [] }
  const shown = new Set(mentionsIn(text).map((address) => address.toLowerCase()))
  const kept = new Map<string, Address>()
  const dropped: DroppedMention[] = []
  for (const address of listed) {
    const key = address.toLowerCase()
    if (!shown.has(key)) dropped.push({ address, reason: 'its text does not show this mention (@0x…)' })
    else if (kept.has(key)) dropped.push({ address, reason: 'listed twice' })
    else kept.set(key, checksum(address))
  }
  return { mentions: [...kept.values()], dropped }
}

/** Whether `mentions` names `address` (any letter case). */
export function mentionsAddress(mentions: readonly string[] | undefined, address: string): boolean {
  const wanted = address.toLowerCase()
  return mentions?.some((mention) => mention.toLowerCase() === wanted) === true
}

/** `address` with its checksum; an all-lowercase or all-uppercase one is taken as written, a wrong mix too. */
function checksum(address: string): Address {
  try {
    return getAddress(address) as Address
  } catch {
    // A mixed-case address whose checksum is wrong: still the same wallet (case says nothing about it here).
    return getAddress(address.toLowerCase()) as Address
  }
}
