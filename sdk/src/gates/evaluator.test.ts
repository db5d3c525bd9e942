import { Contract, JsonRpcProvider, parseUnits } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestChain, type TestChain } from '../../../test/helpers/chain.ts'
import { type RpcProxy, startRpcProxy } from '../../../test/helpers/rpc-proxy.ts'
import { demoTokenAbi, memberNftAbi } from '../contracts/index.ts'
import { GateUnavailableError } from '../errors.ts'
import type { Address } from '../types.ts'
import {
  type EligibilityChange,
  explainGateResult,
  type GateEvaluator,
  type GateEvaluatorInit,
  gateEvaluator,
  resolveGateEvaluator,
} from './evaluator.ts'
import { decideGate } from './room-gate.ts'
import type { GateRule, TokenRule } from './rule.ts'

let chain: TestChain
let nft: Extract<TokenRule, { type: 'erc721' }>
let multi: (tokenId: string, minBalance: string) => TokenRule
let coin: (minBalance: string) => TokenRule
const evaluators: GateEvaluator[] = []
const providers: JsonRpcProvider[] = []

beforeAll(async () => {
  // Accounts 1 and 2 hold one MemberNFT each, 10 of ERC-1155 id 1 and 1000 DemoToken (18 decimals).
  chain = await startTestChain({ mintTo: [1, 2] })
  const { chainId, addresses } = chain
  nft = { type: 'erc721', chainId, contract: addresses.memberNft, minBalance: '1' }
  multi = (tokenId, minBalance) => ({
    type: 'erc1155',
    chainId,
    contract: addresses.demoMultiToken,
    tokenId,
    minBalance,
  })
  coin = (minBalance) => ({ type: 'erc20', chainId, contract: addresses.demoToken, minBalance })
})

afterAll(async () => {
  for (const evaluator of evaluators) evaluator.stop()
  for (const provider of providers) provider.destroy()
  await chain?.stop()
})

function evaluatorFor(init: GateEvaluatorInit = {}, url = chain.rpcUrl): GateEvaluator {
  const provider = new JsonRpcProvider(url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  const evaluator = gateEvaluator({ pollIntervalMs: 50, ...init })({ provider })
  providers.push(provider)
  evaluators.push(evaluator)
  return evaluator
}

function account(i: number): string {
  return chain.accounts[i]!.address
}

/** Mints a fresh MemberNFT to account `to` and returns its id. */
async function mintNft(to: number): Promise<bigint> {
  const contract = new Contract(chain.addresses.memberNft, memberNftAbi, chain.accounts[0]!)
  const id = (await contract.getFunction('nextTokenId')()) as bigint
  await (await contract.getFunction('mint')(account(to))).wait()
  return id
}

async function transferNft(from: number, to: number, id: bigint): Promise<number> {
  const contract = new Contract(chain.addresses.memberNft, memberNftAbi, chain.accounts[from]!)
  const receipt = await (await contract.getFunction('transferFrom')(account(from), account(to), id)).wait()
  return receipt!.blockNumber
}

function nextEvent(
  evaluator: GateEvaluator,
  type: 'member:eligible' | 'member:ineligible',
  address: string,
): Promise<EligibilityChange> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<EligibilityChange>): void => {
      if (event.detail.address !== address) return
      evaluator.removeEventListener(type, listener)
      resolve(event.detail)
    }
    evaluator.addEventListener(type, listener)
  })
}

describe('GateEvaluator on Hardhat with the demo contracts', () => {
  it('behavior: an ERC-721 holder passes, a non-holder fails with a readable explanation', async () => {
    const evaluator = evaluatorFor()
    const holder = await evaluator.evaluate(nft, account(1))
    expect(holder).toMatchObject({ status: 'eligible', stale: false, error: undefined })
    expect(holder.holdings[0]!.balance).toBe(1n)
    const outsider = await evaluator.evaluate(nft, account(3).toLowerCase())
    expect(outsider.status).toBe('ineligible')
    expect(explainGateResult(outsider)).toBe(
      `this room requires 1 × SecureChat Member (${chain.addresses.memberNft}) on chain ${chain.chainId}; ${account(3)} holds 0`,
    )
    expect(await evaluator.isEligible(nft, account(3))).toBe(false)
  })

  it('behavior: ERC-20 threshold in base units, named in whole tokens', async () => {
    const evaluator = evaluatorFor()
    const all = parseUnits('1000', 18).toString()
    expect((await evaluator.evaluate(coin(all), account(1))).status).toBe('eligible')
    const oneMore = await evaluator.evaluate(coin((BigInt(all) + 1n).toString()), account(1))
    expect(oneMore.status).toBe('ineligible')
    expect(explainGateResult(oneMore)).toBe(
      `this room requires 1000.000000000000000001 × SecureChat Demo Token (${chain.addresses.demoToken}) on chain ${chain.chainId}; ${account(1)} holds 1000`,
    )
  })

  it('behavior: ERC-1155 reads the named id only', async () => {
    const evaluator = evaluatorFor()
    expect((await evaluator.evaluate(multi('1', '10'), account(2))).status).toBe('eligible')
    expect((await evaluator.evaluate(multi('1', '11'), account(2))).status).toBe('ineligible')
    expect((await evaluator.evaluate(multi('2', '1'), account(2))).status).toBe('ineligible')
  })

  it('behavior: one ERC-721 token id, including one that does not exist', async () => {
    const evaluator = evaluatorFor()
    const id = await mintNft(6)
    const one: TokenRule = { ...nft, tokenId: id.toString() }
    expect((await evaluator.evaluate(one, account(6))).status).toBe('eligible')
    expect((await evaluator.evaluate(one, account(1))).status).toBe('ineligible')
    expect((await evaluator.evaluate({ ...nft, tokenId: '999999' }, account(6))).status).toBe('ineligible')
  })

  it('behavior: anyOf and allOf', async () => {
    const evaluator = evaluatorFor()
    const token = new Contract(chain.addresses.demoToken, demoTokenAbi, chain.accounts[0]!)
    const fiveHundred = parseUnits('500', 18)
    await (await token.getFunction('mint')(account(7), fiveHundred)).wait()
    const either: GateRule = { anyOf: [nft, coin(fiveHundred.toString())] }
    const both: GateRule = { allOf: [nft, coin(fiveHundred.toString())] }
    expect((await evaluator.evaluate(either, account(7))).status).toBe('eligible')
    expect((await evaluator.evaluate(both, account(7))).status).toBe('ineligible')
    expect((await evaluator.evaluate(both, account(1))).status).toBe('eligible')
    const neither = await evaluator.evaluate(either, account(8))
    expect(neither.status).toBe('ineligible')
    expect(explainGateResult(neither)).toBe(
      `this room requires 1 × SecureChat Member (${chain.addresses.memberNft}) or 500 × SecureChat Demo Token` +
        ` (${chain.addresses.demoToken}) on chain ${chain.chainId}; ${account(8)} holds 0 × SecureChat Member, 0 × SecureChat Demo Token`,
    )
  })

  it('behavior: a transfer away is noticed in the block that made it (member:ineligible)', async () => {
    const evaluator = evaluatorFor({ pollIntervalMs: 50 })
    evaluator.start()
    const id = await mintNft(9)
    expect((await evaluator.evaluate(nft, account(9))).status).toBe('eligible')
    evaluator.watch(nft, account(9))
    const lost = nextEvent(evaluator, 'member:ineligible', account(9))
    const block = await transferNft(9, 10, id)
    const change = await lost
    expect(change.result.status).toBe('ineligible')
    expect(change.result.blockNumber).toBe(block)
    expect(evaluator.check(nft, account(9))).toBe('ineligible')
    // And back: the event the other way.
    const regained = nextEvent(evaluator, 'member:eligible', account(9))
    await transferNft(10, 9, id)
    expect((await regained).result.status).toBe('eligible')
  })

  it('behavior: transfer-after-check — one NFT moved between two wallets never admits both', async () => {
    // No background polling: the read of the newcomer alone must retire the previous holder.
    const evaluator = evaluatorFor({ pollIntervalMs: 3_600_000 })
    const id = await mintNft(11)
    expect((await evaluator.evaluate(nft, account(11))).status).toBe('eligible')
    evaluator.watch(nft, account(11))
    await transferNft(11, 12, id)
    expect((await evaluator.evaluate(nft, account(12))).status).toBe('eligible')
    expect(evaluator.check(nft, account(11))).toBeUndefined()
    expect((await evaluator.evaluate(nft, account(11))).status).toBe('ineligible')
  })

  it('behavior: follow — a record that arrives after the block of a transfer is judged at it, with no poll in between', async () => {
    // Started, but its poll would come only after an hour: the record's own head read must find the transfer.
    const evaluator = evaluatorFor({ pollIntervalMs: 3_600_000 })
    evaluator.start()
    const id = await mintNft(18)
    expect(await decideGate(evaluator, nft, account(18) as Address)).toEqual({ admit: true })
    expect(evaluator.check(nft, account(18))).toBe('eligible')
    const block = await transferNft(18, 19, id)
    // Right after the block is mined the cached verdict still says yes; the gate step does not trust it.
    expect(evaluator.check(nft, account(18))).toBe('eligible')
    const lost = nextEvent(evaluator, 'member:ineligible', account(18))
    expect(await decideGate(evaluator, nft, account(18) as Address)).toEqual({ admit: false, reason: 'ineligible' })
    expect(evaluator.head).toBe(block)
    expect((await lost).result.blockNumber).toBe(block)
  })

  it('behavior: follow — one head read serves every record that arrived before it started', async () => {
    const evaluator = evaluatorFor({ pollIntervalMs: 3_600_000, headReadIntervalMs: 200 })
    evaluator.start()
    await evaluator.follow()
    const before = evaluator.stats()
    // A burst of 100 records: one read after the spacing, shared by all.
    const heads = await Promise.all(Array.from({ length: 100 }, () => evaluator.follow()))
    expect(new Set(heads).size).toBe(1)
    expect(evaluator.stats().heads - before.heads).toBe(1)
  })

  it('behavior: follow — a record that arrives while a head read is in flight waits for the next read', async () => {
    // No spacing: the first call starts its read at once, and the second arrives while it is in flight.
    const evaluator = evaluatorFor({ pollIntervalMs: 3_600_000, headReadIntervalMs: 0 })
    evaluator.start()
    const id = await mintNft(16)
    await evaluator.evaluate(nft, account(16))
    const before = evaluator.stats()
    const first = evaluator.follow()
    const block = await transferNft(16, 17, id)
    const second = evaluator.follow()
    await Promise.all([first, second])
    expect(evaluator.stats().heads - before.heads).toBe(2)
    expect(await second).toBe(block)
  })

  it('behavior: follow — records worked through one after another (deferred) share a recent read', async () => {
    // Not started, so reads are not spaced: only `deferred` saves them.
    const evaluator = evaluatorFor({ pollIntervalMs: 3_600_000, headReadIntervalMs: 3_600_000 })
    await evaluator.follow()
    const before = evaluator.stats().heads
    for (let i = 0; i < 20; i++) await evaluator.follow({ deferred: true })
    expect(evaluator.stats().heads).toBe(before)
    await evaluator.follow()
    expect(evaluator.stats().heads).toBe(before + 1)
  })

  it("behavior: resolveGateEvaluator gives its settings to the evaluator it makes (a relay's --gate-head-read-interval-ms)", async () => {
    let now = Date.now()
    const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
    providers.push(provider)
    const made = resolveGateEvaluator({ provider, gateEvaluator: { headReadIntervalMs: 60_000, now: () => now } })
    expect(made.owned).toBe(true)
    const evaluator = made.gates!
    evaluators.push(evaluator)
    await evaluator.follow()
    const before = evaluator.stats().heads
    // Ten seconds on — far past the default spacing, within the one given: the read of then still serves.
    now += 10_000
    await evaluator.follow({ deferred: true })
    expect(evaluator.stats().heads).toBe(before)
    now += 60_000
    await evaluator.follow({ deferred: true })
    expect(evaluator.stats().heads).toBe(before + 1)
  })

  it('behavior: results are cached for cacheTtlMs, then read again', async () => {
    let now = Date.now()
    const evaluator = evaluatorFor({ cacheTtlMs: 1_000, now: () => now })
    const first = await evaluator.evaluate(multi('1', '1'), account(1))
    expect(await evaluator.evaluate(multi('1', '1'), account(1))).toBe(first)
    expect(evaluator.check(multi('1', '1'), account(1))).toBe('eligible')
    now += 1_001
    expect(evaluator.check(multi('1', '1'), account(1))).toBeUndefined()
    const second = await evaluator.evaluate(multi('1', '1'), account(1))
    expect(second).not.toBe(first)
    expect(second.status).toBe('eligible')
  })

  it('error: a rule for another chain, or a contract that is not there, is unknown (never admitted)', async () => {
    const evaluator = evaluatorFor()
    const elsewhere = await evaluator.evaluate({ ...nft, chainId: 1 }, account(1))
    expect(elsewhere.status).toBe('unknown')
    expect(elsewhere.error?.message).toBe(
      `the room's rule reads chain 1, but the RPC endpoint serves chain ${chain.chainId}`,
    )
    expect(elsewhere.error?.hint).toContain('--rpc')
    const missing = await evaluator.evaluate(
      { ...nft, contract: '0x000000000000000000000000000000000000dEaD' },
      account(1),
    )
    expect(missing.status).toBe('unknown')
    expect(missing.error?.message).toContain('there is no contract at')
  })
})

describe('GateEvaluator when the RPC endpoint fails', () => {
  let proxy: RpcProxy

  beforeAll(async () => {
    proxy = await startRpcProxy(chain.rpcUrl)
  })

  afterAll(async () => {
    await proxy?.close()
  })

  it('behavior: fail closed — newcomers unknown, verified members kept, the outage reported once, recovery reported', async () => {
    let now = Date.now()
    const evaluator = evaluatorFor({ cacheTtlMs: 1_000, rpcTimeoutMs: 2_000, now: () => now }, proxy.url)
    const outages: GateUnavailableError[] = []
    evaluator.addEventListener('gate:unavailable', (event) => outages.push(event.detail))
    const member = await evaluator.evaluate(nft, account(1))
    expect(member.status).toBe('eligible')
    evaluator.watch(nft, account(1))

    proxy.cut()
    now += 1_001
    const newcomer = await evaluator.evaluate(nft, account(2))
    expect(newcomer.status).toBe('unknown')
    expect(newcomer.error).toBeInstanceOf(GateUnavailableError)
    expect(newcomer.error?.hint).toMatch(/--rpc.*nobody new is admitted/)
    expect(explainGateResult(newcomer)).toContain('it cannot be checked now')
    expect(await evaluator.isEligible(nft, account(2))).toBe(false)

    // The member's verdict is stale, but an outage is not a definite negative.
    expect(evaluator.check(nft, account(1))).toBe('eligible')
    const kept = await evaluator.evaluate(nft, account(1))
    expect(kept).toMatchObject({ status: 'eligible', stale: true })
    expect(outages).toHaveLength(1)
    expect(evaluator.unavailable).toBe(outages[0])

    proxy.restore()
    const available = new Promise((resolve) => evaluator.addEventListener('gate:available', resolve, { once: true }))
    expect((await evaluator.evaluate(nft, account(2))).status).toBe('eligible')
    await available
    expect(evaluator.unavailable).toBeUndefined()
  })

  it('error: a member is dropped after the outage once the chain says so', async () => {
    let now = Date.now()
    const evaluator = evaluatorFor({ cacheTtlMs: 1_000, rpcTimeoutMs: 2_000, now: () => now }, proxy.url)
    const id = await mintNft(13)
    expect((await evaluator.evaluate(nft, account(13))).status).toBe('eligible')
    proxy.cut()
    await transferNft(13, 14, id)
    now += 1_001
    expect((await evaluator.evaluate(nft, account(13))).stale).toBe(true)
    proxy.restore()
    expect((await evaluator.evaluate(nft, account(13))).status).toBe('ineligible')
  })

  it('error: records that arrive while a head read hangs are judged when it times out, without a read of their own', async () => {
    const evaluator = evaluatorFor({ rpcTimeoutMs: 300, headReadIntervalMs: 0 }, proxy.url)
    const head = await evaluator.follow()
    expect(head).toBeGreaterThan(0)
    proxy.stall()
    try {
      const before = evaluator.stats().heads
      const first = evaluator.follow()
      const second = evaluator.follow()
      // Both are judged by what is known (the last head), and only one read waited for the timeout.
      expect(await Promise.all([first, second])).toEqual([head, head])
      expect(evaluator.stats().heads - before).toBe(1)
      expect(evaluator.unavailable?.message).toBe("the chain's RPC endpoint did not answer within 300 ms")
    } finally {
      proxy.restore()
    }
  })

  it('error: an RPC endpoint that never answers times out as unknown', async () => {
    const evaluator = evaluatorFor({ rpcTimeoutMs: 300 }, proxy.url)
    proxy.stall()
    try {
      const result = await evaluator.evaluate(multi('1', '1'), account(1))
      expect(result.status).toBe('unknown')
      expect(result.error?.message).toBe("the chain's RPC endpoint did not answer within 300 ms")
    } finally {
      proxy.restore()
    }
  })
})
