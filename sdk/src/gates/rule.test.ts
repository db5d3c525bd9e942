import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../errors.ts'
import { GATE_MAX_CONDITIONS, GATE_MAX_DEPTH } from './constants.ts'
import {
  combineGateRule,
  conditionsOf,
  describeGateRule,
  type GateRule,
  gateRuleKey,
  gateRuleSchema,
  parseGateRule,
  type TokenRule,
} from './rule.ts'

const NFT = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const MULTI = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512'
const ERC20 = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0'
/** The chain the readable forms' conditions are on here (the sdk has no default chain). */
const ON_DEVNET = { chainId: 31337 }

describe('parseGateRule', () => {
  it('behavior: readable forms, with contracts checksummed and the chain from options', () => {
    expect(parseGateRule(`erc721:${NFT.toLowerCase()}`, ON_DEVNET)).toEqual({
      type: 'erc721',
      chainId: 31337,
      contract: NFT,
      minBalance: '1',
    })
    expect(parseGateRule(`erc721:${NFT}:2`, { chainId: 1 })).toEqual({
      type: 'erc721',
      chainId: 1,
      contract: NFT,
      minBalance: '2',
    })
    expect(parseGateRule(`erc721:${NFT}#7`, ON_DEVNET)).toMatchObject({ tokenId: '7', minBalance: '1' })
    expect(parseGateRule(`erc1155:${MULTI}#1:5`, ON_DEVNET)).toEqual({
      type: 'erc1155',
      chainId: 31337,
      contract: MULTI,
      tokenId: '1',
      minBalance: '5',
    })
    expect(parseGateRule(`  erc20:${ERC20}:1000000000000000000  `, ON_DEVNET)).toMatchObject({
      type: 'erc20',
      minBalance: '1000000000000000000',
    })
  })

  it('behavior: & binds tighter than |', () => {
    const rule = parseGateRule(`erc721:${NFT} & erc20:${ERC20}:10 | erc1155:${MULTI}#1`, ON_DEVNET)
    expect(rule).toEqual({
      anyOf: [
        {
          allOf: [
            { type: 'erc721', chainId: 31337, contract: NFT, minBalance: '1' },
            { type: 'erc20', chainId: 31337, contract: ERC20, minBalance: '10' },
          ],
        },
        { type: 'erc1155', chainId: 31337, contract: MULTI, tokenId: '1', minBalance: '1' },
      ],
    })
  })

  it('behavior: JSON, where conditions without a chainId take the chain from options', () => {
    const json = JSON.stringify({
      allOf: [
        { type: 'erc721', contract: NFT.toLowerCase(), minBalance: '1' },
        { type: 'erc20', chainId: 8453, contract: ERC20, minBalance: '5' },
      ],
    })
    expect(parseGateRule(json, { chainId: 10 })).toEqual({
      allOf: [
        { type: 'erc721', chainId: 10, contract: NFT, minBalance: '1' },
        { type: 'erc20', chainId: 8453, contract: ERC20, minBalance: '5' },
      ],
    })
  })

  it.each([
    ['unknown standard', `erc777:${NFT}`, /cannot read/],
    ['short address', 'erc721:0x1234', /cannot read/],
    ['bad checksum', `erc721:${NFT.replace('F', 'f')}`, /checksum/],
    ['zero minimum', `erc721:${NFT}:0`, /at least 1/],
    ['ERC-1155 without id', `erc1155:${MULTI}:3`, /token id/],
    ['ERC-20 with id', `erc20:${ERC20}#1`, /no token id/],
    ['one ERC-721 id, several held', `erc721:${NFT}#1:2`, /minBalance 1/],
    ['uint256 overflow', `erc20:${ERC20}:${'9'.repeat(80)}`, /2\^256/],
    ['broken JSON', '{"anyOf": [', /not valid JSON/],
    ['unknown key', JSON.stringify({ type: 'erc20', chainId: 1, contract: ERC20, minBalance: '1', x: 1 }), /gate rule/],
    ['empty anyOf', JSON.stringify({ anyOf: [] }), /1 to 16 rules/],
  ])('error: %s', (_, input, message) => {
    const err = (() => {
      try {
        parseGateRule(input, ON_DEVNET)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toMatch(message)
    expect((err as InvalidInputError).hint).toMatch(/erc721:<contract>|lowercase/)
  })

  it('error: no chain for the conditions names the option (the sdk assumes no devnet)', () => {
    const err = (() => {
      try {
        parseGateRule(`erc721:${NFT}`, {} as { chainId: number })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toMatch(/chainId is missing/)
    expect((err as InvalidInputError).hint).toMatch(/chainId/)
  })
})

describe('gateRuleSchema', () => {
  const leaf: TokenRule = { type: 'erc721', chainId: 1, contract: NFT, minBalance: '1' }

  it(`error: nesting deeper than ${GATE_MAX_DEPTH} levels`, () => {
    let rule: GateRule = leaf
    for (let i = 0; i < GATE_MAX_DEPTH; i++) rule = { anyOf: [rule] }
    expect(gateRuleSchema.safeParse(rule).success).toBe(true)
    expect(gateRuleSchema.safeParse({ allOf: [rule] }).success).toBe(false)
  })

  it(`error: more than ${GATE_MAX_CONDITIONS} conditions in all`, () => {
    const half = { anyOf: Array.from({ length: GATE_MAX_CONDITIONS / 2 }, () => leaf) }
    expect(gateRuleSchema.safeParse({ allOf: [half, half] }).success).toBe(true)
    const result = gateRuleSchema.safeParse({ allOf: [half, half, leaf] })
    expect(result.success).toBe(false)
    expect(result.error?.issues.at(-1)?.message).toMatch(/at most 16 token conditions/)
  })

  it('error: a hostile, deeply nested rule is refused without walking it all', () => {
    let rule: unknown = leaf
    for (let i = 0; i < 10_000; i++) rule = { anyOf: [rule] }
    expect(gateRuleSchema.safeParse(rule).success).toBe(false)
  })
})

describe('rule helpers', () => {
  const nft: TokenRule = { type: 'erc721', chainId: 31337, contract: NFT, minBalance: '1' }
  const coin: TokenRule = { type: 'erc20', chainId: 31337, contract: ERC20, minBalance: '1000000000000000000000' }
  const multi: TokenRule = { type: 'erc1155', chainId: 31337, contract: MULTI, tokenId: '1', minBalance: '5' }

  it('behavior: describeGateRule names tokens when their metadata is known', () => {
    expect(describeGateRule(nft)).toBe(`1 × ERC-721 token (${NFT}) on chain 31337`)
    const tokens = new Map([
      [NFT, { name: 'SecureChat Member', symbol: 'SCMEMBER' }],
      [ERC20, { name: 'Demo Token', decimals: 18 }],
    ])
    expect(describeGateRule(nft, { tokens })).toBe(`1 × SecureChat Member (${NFT}) on chain 31337`)
    expect(describeGateRule({ anyOf: [nft, { allOf: [coin, multi] }] }, { tokens })).toBe(
      `1 × SecureChat Member (${NFT}) or (1000 × Demo Token (${ERC20}) and 5 × ERC-1155 token #1 (${MULTI})) on chain 31337`,
    )
    expect(describeGateRule(coin)).toContain('1000000000000000000000 base units of ERC-20 token')
    expect(describeGateRule({ allOf: [nft, { ...coin, chainId: 1 }] })).toBe(
      `1 × ERC-721 token (${NFT}) on chain 31337 and 1000000000000000000000 base units of ERC-20 token (${ERC20}) on chain 1`,
    )
  })

  it('behavior: three-valued combination (an unreadable balance never admits by itself)', () => {
    const of = (values: Map<TokenRule, boolean | undefined>) => (c: TokenRule) => values.get(c)
    expect(
      combineGateRule(
        { anyOf: [nft, coin] },
        of(
          new Map<TokenRule, boolean | undefined>([
            [nft, undefined],
            [coin, true],
          ]),
        ),
      ),
    ).toBe(true)
    expect(
      combineGateRule(
        { anyOf: [nft, coin] },
        of(
          new Map<TokenRule, boolean | undefined>([
            [nft, undefined],
            [coin, false],
          ]),
        ),
      ),
    ).toBe(undefined)
    expect(
      combineGateRule(
        { allOf: [nft, coin] },
        of(
          new Map<TokenRule, boolean | undefined>([
            [nft, undefined],
            [coin, false],
          ]),
        ),
      ),
    ).toBe(false)
    expect(
      combineGateRule(
        { allOf: [nft, coin] },
        of(
          new Map<TokenRule, boolean | undefined>([
            [nft, undefined],
            [coin, true],
          ]),
        ),
      ),
    ).toBe(undefined)
    expect(conditionsOf({ anyOf: [nft, { allOf: [coin, multi] }] })).toEqual([nft, coin, multi])
  })

  it('behavior: gateRuleKey ignores address case and key order', () => {
    const a = gateRuleKey({ ...nft, contract: NFT.toLowerCase() })
    const b = gateRuleKey({ minBalance: '1', contract: NFT, chainId: 31337, type: 'erc721' })
    expect(a).toBe(b)
    expect(gateRuleKey({ ...nft, minBalance: '2' })).not.toBe(a)
  })
})
