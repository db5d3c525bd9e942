import { formatUnits, getAddress, isAddress } from 'ethers'
import { z } from 'zod'
import { canonicalJson } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import type { GateRule, RateTier, TokenRule } from '../types.ts'
import {
  GATE_MAX_CONDITIONS,
  GATE_MAX_DEPTH,
  GATE_MAX_RATE_TIERS,
  GATE_MAX_TIER_RECORDS_PER_SECOND,
} from './constants.ts'

/**
 * Token-gate rules (docs/architecture.md, Token gates): a chain, a standard, a contract, an optional
 * token id and a minimum balance; rules combine with `anyOf` / `allOf`. Amounts and ids are
 * decimal strings (uint256 does not fit a JSON number, and the manifest is hashed as JSON).
 */

const UINT256_MAX = (1n << 256n) - 1n

const uintSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]*)$/, 'a decimal integer string without leading zeros')
  .refine((value) => value.length <= 78 && BigInt(value) <= UINT256_MAX, 'at most 2^256 - 1')
const minBalanceSchema = uintSchema.refine((value) => BigInt(value) >= 1n, 'at least 1 (0 would admit everybody)')
const contractSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte address')
  .refine((value) => isAddress(value), 'a valid EIP-55 checksum (or all lowercase)')
const chainIdSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

/**
 * Rate tiers of a token condition (docs/token-gates.md, Rate tiers): at most {@link GATE_MAX_RATE_TIERS}, rising in
 * both balance and rate, so that holding more never lowers a device's rate.
 */
export const rateTiersSchema = z
  .array(
    z
      .object({
        minBalance: minBalanceSchema,
        recordsPerSecond: z.number().positive().max(GATE_MAX_TIER_RECORDS_PER_SECOND),
      })
      .strict(),
  )
  .min(1)
  .max(GATE_MAX_RATE_TIERS)
  .refine(
    (tiers) =>
      tiers.every(
        (tier, i) =>
          i === 0 ||
          (BigInt(tier.minBalance) > BigInt(tiers[i - 1]!.minBalance) &&
            tier.recordsPerSecond > tiers[i - 1]!.recordsPerSecond),
      ),
    'tiers rise in both minBalance and recordsPerSecond',
  ) satisfies z.ZodType<RateTier[]>

export const tokenRuleSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('erc20'),
      chainId: chainIdSchema,
      contract: contractSchema,
      minBalance: minBalanceSchema,
      rateTiers: rateTiersSchema.optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('erc721'),
      chainId: chainIdSchema,
      contract: contractSchema,
      /** A specific token: the holder must own it (`ownerOf`), and `minBalance` is 1. */
      tokenId: uintSchema.optional(),
      minBalance: minBalanceSchema,
      rateTiers: rateTiersSchema.optional(),
    })
    .strict()
    .refine((rule) => rule.tokenId === undefined || rule.minBalance === '1', {
      message: 'a rule naming one ERC-721 token id has minBalance 1',
      path: ['minBalance'],
    }),
  z
    .object({
      type: z.literal('erc1155'),
      chainId: chainIdSchema,
      contract: contractSchema,
      tokenId: uintSchema,
      minBalance: minBalanceSchema,
      rateTiers: rateTiersSchema.optional(),
    })
    .strict(),
]) satisfies z.ZodType<TokenRule>

// The types live in the sdk's types module, below every feature; the schema must parse to them.
export type { GateRule, RateTier, TokenRule }

/**
 * A rule, checked without recursion beyond {@link GATE_MAX_DEPTH} and with at most
 * {@link GATE_MAX_CONDITIONS} token conditions, so a hostile manifest costs little to reject.
 */
export const gateRuleSchema = z.custom<GateRule>().superRefine((value, ctx) => {
  let conditions = 0
  const visit = (node: unknown, path: (string | number)[], depth: number): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      ctx.addIssue({ code: 'custom', path, message: 'expected a rule object' })
      return
    }
    const keys = Object.keys(node)
    const combinator = keys.length === 1 && (keys[0] === 'anyOf' || keys[0] === 'allOf') ? keys[0] : undefined
    if (combinator === undefined) {
      conditions += 1
      const parsed = tokenRuleSchema.safeParse(node)
      if (!parsed.success) {
        for (const issue of parsed.error.issues.slice(0, 3)) {
          ctx.addIssue({ code: 'custom', path: [...path, ...issue.path.map(String)], message: issue.message })
        }
      }
      return
    }
    const children = (node as Record<string, unknown>)[combinator]
    if (depth >= GATE_MAX_DEPTH) {
      ctx.addIssue({ code: 'custom', path, message: `rules nest at most ${GATE_MAX_DEPTH} levels deep` })
      return
    }
    if (!Array.isArray(children) || children.length === 0 || children.length > GATE_MAX_CONDITIONS) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, combinator],
        message: `expected an array of 1 to ${GATE_MAX_CONDITIONS} rules`,
      })
      return
    }
    for (const [i, child] of children.entries()) {
      visit(child, [...path, combinator, i], depth + 1)
      if (conditions > GATE_MAX_CONDITIONS) break
    }
  }
  visit(value, [], 0)
  if (conditions > GATE_MAX_CONDITIONS) {
    ctx.addIssue({ code: 'custom', path: [], message: `a rule has at most ${GATE_MAX_CONDITIONS} token conditions` })
  }
})

/** The token conditions of a rule, depth first, in the order they are written. */
export function conditionsOf(rule: GateRule): TokenRule[] {
  if ('anyOf' in rule) return rule.anyOf.flatMap(conditionsOf)
  if ('allOf' in rule) return rule.allOf.flatMap(conditionsOf)
  return [rule]
}

/** A stable key for a rule (its canonical JSON with checksummed contracts): the cache key. */
export function gateRuleKey(rule: GateRule): string {
  return canonicalJson(normalizeGateRule(rule))
}

/** The same rule with EIP-55 checksummed contract addresses. */
export function normalizeGateRule(rule: GateRule): GateRule {
  if ('anyOf' in rule) return { anyOf: rule.anyOf.map(normalizeGateRule) }
  if ('allOf' in rule) return { allOf: rule.allOf.map(normalizeGateRule) }
  return { ...rule, contract: getAddress(rule.contract) }
}

/** Three-valued combination: a condition whose balance could not be read is `undefined`. */
export function combineGateRule(
  rule: GateRule,
  passes: (condition: TokenRule) => boolean | undefined,
): boolean | undefined {
  if ('anyOf' in rule) {
    const results = rule.anyOf.map((r) => combineGateRule(r, passes))
    if (results.includes(true)) return true
    return results.includes(undefined) ? undefined : false
  }
  if ('allOf' in rule) {
    const results = rule.allOf.map((r) => combineGateRule(r, passes))
    if (results.includes(false)) return false
    return results.includes(undefined) ? undefined : true
  }
  return passes(rule)
}

const READABLE_FORMS =
  'erc721:<contract>[:<min>] | erc721:<contract>#<tokenId> | erc1155:<contract>#<id>[:<min>] | ' +
  'erc20:<contract>[:<min in base units>]; join with & (all of) and | (any of), or give JSON'

export interface ParseGateRuleOptions {
  /** Chain of the readable form's conditions (JSON names its own): no default, the sdk assumes no chain. */
  chainId: number
}

/**
 * Parses a rule from its readable form — `erc721:0xabc…`, `erc721:0xabc…:2` (at least 2),
 * `erc721:0xabc…#7` (token 7), `erc1155:0xabc…#<id>:<min>`, `erc20:0xabc…:<min in base units>`,
 * joined with `&` (all of, binds tighter) and `|` (any of) — or from JSON (conditions without a
 * `chainId` get `options.chainId`). Contracts come back EIP-55 checksummed.
 */
export function parseGateRule(text: string, options: ParseGateRuleOptions): GateRule {
  const chainId = options?.chainId
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new InvalidInputError('gate rule: chainId is missing (the chain of the conditions that name none)', {
      details: { chainId },
      hint: "pass { chainId }: the chain the room's members hold their tokens on, one of its manifest's chainIds",
    })
  }
  const input = text.trim()
  let candidate: unknown
  if (input.startsWith('{')) {
    try {
      candidate = withDefaultChain(JSON.parse(input), chainId, 0)
    } catch (cause) {
      throw new InvalidInputError('gate rule: not valid JSON', { cause, hint: READABLE_FORMS })
    }
  } else {
    const anyOf = input.split('|').map((term) => {
      const allOf = term.split('&').map((part) => parseCondition(part.trim(), chainId))
      return allOf.length === 1 ? allOf[0]! : { allOf }
    })
    candidate = anyOf.length === 1 ? anyOf[0] : { anyOf }
  }
  const parsed = gateRuleSchema.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const at = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`
    throw new InvalidInputError(`gate rule${at}: ${issue?.message ?? 'invalid'}`, {
      details: { input: text.slice(0, 200), issues: parsed.error.issues.slice(0, 5) },
      hint: READABLE_FORMS,
    })
  }
  return normalizeGateRule(parsed.data)
}

const CONDITION = /^(erc20|erc721|erc1155):(0x[0-9a-fA-F]{40})(?:#([0-9]+))?(?::([0-9]+))?$/

function parseCondition(part: string, chainId: number): TokenRule {
  const match = CONDITION.exec(part)
  if (match === null) {
    throw new InvalidInputError(`gate rule: cannot read ${JSON.stringify(part.slice(0, 120))}`, {
      details: { part },
      hint: READABLE_FORMS,
    })
  }
  const [, type, contract, tokenId, min] = match as unknown as [string, TokenRule['type'], string, string?, string?]
  if (!isAddress(contract)) {
    throw new InvalidInputError(`gate rule: ${contract} has a wrong EIP-55 checksum`, {
      details: { contract },
      hint: 'copy the address again, or write it in lowercase',
    })
  }
  const rule: Record<string, unknown> = { type, chainId, contract: getAddress(contract), minBalance: min ?? '1' }
  if (tokenId !== undefined) rule.tokenId = tokenId
  if (type === 'erc20' && tokenId !== undefined) {
    throw new InvalidInputError('gate rule: an ERC-20 condition has no token id', {
      details: { part },
      hint: READABLE_FORMS,
    })
  }
  if (type === 'erc1155' && tokenId === undefined) {
    throw new InvalidInputError('gate rule: an ERC-1155 condition names its token id (erc1155:<contract>#<id>)', {
      details: { part },
      hint: READABLE_FORMS,
    })
  }
  return rule as TokenRule
}

function withDefaultChain(node: unknown, chainId: number, depth: number): unknown {
  if (depth > GATE_MAX_DEPTH + 1 || typeof node !== 'object' || node === null || Array.isArray(node)) return node
  const record = node as Record<string, unknown>
  for (const key of ['anyOf', 'allOf'] as const) {
    const children = record[key]
    if (Array.isArray(children)) {
      return {
        ...record,
        [key]: children.slice(0, GATE_MAX_CONDITIONS + 1).map((c) => withDefaultChain(c, chainId, depth + 1)),
      }
    }
  }
  return 'type' in record && !('chainId' in record) ? { ...record, chainId } : record
}

/** What a token contract says about itself (`name()`, `symbol()`, `decimals()`), when it does. */
export interface TokenInfo {
  name?: string
  symbol?: string
  decimals?: number
}

export interface DescribeGateRuleOptions {
  /** Token metadata by checksummed contract address, to name tokens instead of standards. */
  tokens?: ReadonlyMap<string, TokenInfo>
}

/**
 * A rule for humans: `1 × SecureChat Member (0x5FbD…) on chain 31337`; `anyOf` reads "or",
 * `allOf` reads "and".
 */
export function describeGateRule(rule: GateRule, options: DescribeGateRuleOptions = {}): string {
  const chains = new Set(conditionsOf(rule).map((c) => c.chainId))
  const oneChain = chains.size === 1 ? [...chains][0] : undefined
  const text = describeNode(rule, options, oneChain === undefined, true)
  return oneChain === undefined ? text : `${text} on chain ${oneChain}`
}

function describeNode(rule: GateRule, options: DescribeGateRuleOptions, withChain: boolean, top: boolean): string {
  if ('anyOf' in rule || 'allOf' in rule) {
    const [children, word] = 'anyOf' in rule ? [rule.anyOf, ' or '] : [rule.allOf, ' and ']
    const text = children.map((c) => describeNode(c, options, withChain, false)).join(word)
    return top || children.length === 1 ? text : `(${text})`
  }
  const info = options.tokens?.get(getAddress(rule.contract))
  const what = `${amountOf(rule, BigInt(rule.minBalance), info)} (${getAddress(rule.contract)})`
  return withChain ? `${what} on chain ${rule.chainId}` : what
}

/** `2 × SecureChat Member`, `SecureChat Member #7`, `1000 × Demo Token`, `5 × ERC-1155 token #1`. */
export function amountOf(rule: TokenRule, amount: bigint, info: TokenInfo | undefined): string {
  const label = tokenLabel(rule, info)
  if (rule.type === 'erc721' && rule.tokenId !== undefined) return `${label} #${rule.tokenId}`
  if (rule.type === 'erc1155') return `${amount} × ${label} #${rule.tokenId}`
  if (rule.type === 'erc20' && info?.decimals === undefined) return `${amount} base units of ${label}`
  return `${formatAmount(rule, amount, info)} × ${label}`
}

/** A balance as a number a holder recognises: ERC-20 amounts in whole tokens when `decimals()` is known. */
export function formatAmount(rule: TokenRule, amount: bigint, info: TokenInfo | undefined): string {
  if (rule.type !== 'erc20' || info?.decimals === undefined) return amount.toString()
  const units = formatUnits(amount, info.decimals)
  return units.endsWith('.0') ? units.slice(0, -2) : units
}

/** The token's `name()`, else its `symbol()`, else its standard (`ERC-721 token`). */
export function tokenLabel(rule: TokenRule, info: TokenInfo | undefined): string {
  return info?.name ?? info?.symbol ?? STANDARD_LABEL[rule.type]
}

const STANDARD_LABEL: Record<TokenRule['type'], string> = {
  erc20: 'ERC-20 token',
  erc721: 'ERC-721 token',
  erc1155: 'ERC-1155 token',
}
