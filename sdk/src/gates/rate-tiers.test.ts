import { describe, expect, it } from 'vitest'
import type { TokenRule } from '../types.ts'
import type { GateHolding } from './evaluator.ts'
import { hasRateTiers, tierRecordsPerSecond } from './rate-tiers.ts'
import { gateRuleSchema, rateTiersSchema } from './rule.ts'

const NFT = '0x5FbDB2315678afecb367f032449F2c512F2A9400'.toLowerCase()
const TOKEN = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512'.toLowerCase()

const tiered: TokenRule = {
  type: 'erc721',
  chainId: 31337,
  contract: NFT,
  minBalance: '1',
  rateTiers: [
    { minBalance: '5', recordsPerSecond: 20 },
    { minBalance: '50', recordsPerSecond: 200 },
  ],
}
const plain: TokenRule = { type: 'erc20', chainId: 31337, contract: TOKEN, minBalance: '1000' }

function holdings(...entries: Array<[TokenRule, bigint | undefined]>): GateHolding[] {
  return entries.map(([condition, balance]) => ({ condition, balance, token: {} }))
}

describe('rate tiers', () => {
  it('behavior: the highest tier a balance reaches gives the rate; none reached, the relay keeps its own', () => {
    const rate = (balance: bigint | undefined) =>
      tierRecordsPerSecond({ status: 'eligible', holdings: holdings([tiered, balance]) })
    expect(rate(1n)).toBeUndefined()
    expect(rate(4n)).toBeUndefined()
    expect(rate(5n)).toBe(20)
    expect(rate(49n)).toBe(20)
    expect(rate(1_000n)).toBe(200)
    expect(rate(undefined)).toBeUndefined()
    // Over every condition with tiers; a condition without tiers gives nothing.
    expect(tierRecordsPerSecond({ status: 'eligible', holdings: holdings([plain, 10n ** 30n], [tiered, 7n]) })).toBe(20)
    // A sender the gate drops gets no tier.
    expect(tierRecordsPerSecond({ status: 'ineligible', holdings: holdings([tiered, 100n]) })).toBeUndefined()
    expect(hasRateTiers({ anyOf: [plain, { allOf: [plain, tiered] }] })).toBe(true)
    expect(hasRateTiers(plain)).toBe(false)
  })

  it('error: tiers that do not rise in both balance and rate, or are out of bounds, are refused at the manifest', () => {
    for (const tiers of [
      [],
      [
        { minBalance: '5', recordsPerSecond: 20 },
        { minBalance: '5', recordsPerSecond: 30 },
      ],
      [
        { minBalance: '5', recordsPerSecond: 20 },
        { minBalance: '9', recordsPerSecond: 10 },
      ],
      [{ minBalance: '0', recordsPerSecond: 20 }],
      [{ minBalance: '5', recordsPerSecond: 0 }],
      [{ minBalance: '5', recordsPerSecond: 20, burst: 5 }],
      [{ minBalance: 5, recordsPerSecond: 20 }],
      Array.from({ length: 9 }, (_, i) => ({ minBalance: String(i + 1), recordsPerSecond: i + 1 })),
    ]) {
      expect(rateTiersSchema.safeParse(tiers).success).toBe(false)
      expect(gateRuleSchema.safeParse({ ...tiered, rateTiers: tiers }).success).toBe(false)
    }
    expect(gateRuleSchema.safeParse(tiered).success).toBe(true)
    expect(gateRuleSchema.safeParse({ anyOf: [plain, tiered] }).success).toBe(true)
  })
})
