/**
 * vitest helper: a local Hardhat chain with the SecureChat contracts deployed (and optionally demo tokens minted).
 *
 *   const chain = await startTestChain({ mintTo: [1, 2] })
 *   afterAll(() => chain.stop())
 */
import { type GateEvaluator, type GateEvaluatorInit, gateEvaluator } from '@securechat/sdk/gates'
import { JsonRpcProvider, Wallet } from 'ethers'
import { hardhatDevPrivateKeys, startChain } from '../../node/src/devnet/chain.ts'
import { type DevnetAddresses, deployContracts, mintDemoTokens } from '../../node/src/devnet/deploy.ts'

export interface StartTestChainInit {
  /** Indexes into `accounts` whose owners get demo tokens (see `mintDemoTokens`). Default: none. */
  mintTo?: readonly number[]
  /** The address the chain's JSON-RPC listens on; default loopback. */
  host?: string
}

export interface TestChain {
  readonly rpcUrl: string
  readonly chainId: number
  /** Polls every 50 ms and caches nothing, so a test sees a state change in the next call. */
  readonly provider: JsonRpcProvider
  /** The 20 funded dev accounts, connected to `provider`. `accounts[0]` deployed and owns the demo tokens. */
  readonly accounts: readonly Wallet[]
  readonly addresses: DevnetAddresses
  /** Pid of the chain process (gone once `stop()` resolved). */
  readonly pid: number
  /** Closes the provider and stops the chain. Idempotent. */
  stop(): Promise<void>
}

/**
 * Starts a chain on a free loopback port (or `init.host`'s), deploys the contracts from account 0, and mints to
 * `init.mintTo`.
 */
export async function startTestChain(init: StartTestChainInit = {}): Promise<TestChain> {
  const chain = await startChain(init.host === undefined ? {} : { host: init.host })
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, {
    staticNetwork: true,
    pollingInterval: 50,
    cacheTimeout: -1,
  })
  try {
    const accounts = hardhatDevPrivateKeys().map((key) => new Wallet(key, provider))
    const deployer = accounts[0]!
    const addresses = await deployContracts({ signer: deployer })
    const holders = (init.mintTo ?? []).map((i) => {
      const account = accounts[i]
      if (account === undefined) throw new RangeError(`mintTo: no account ${i} (there are ${accounts.length})`)
      return account.address
    })
    if (holders.length > 0) await mintDemoTokens({ signer: deployer, addresses, holders })
    let stopping: Promise<void> | undefined
    return {
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      provider,
      accounts,
      addresses,
      pid: chain.pid,
      stop: () => {
        stopping ??= (async () => {
          provider.destroy()
          await chain.stop()
        })()
        return stopping
      },
    }
  } catch (err) {
    provider.destroy()
    await chain.stop()
    throw err
  }
}

/**
 * A started gate evaluator reading `chain` (or `url`, a proxy in front of it) over a provider of its own that caches
 * nothing; stopped, with its provider, by `cleanups` after the test.
 */
export function startGateEvaluator(
  chain: TestChain,
  init: GateEvaluatorInit & { url?: string },
  cleanups: Array<() => Promise<void> | void>,
): GateEvaluator {
  const { url, ...evaluatorInit } = init
  const provider = new JsonRpcProvider(url ?? chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  const evaluator = gateEvaluator(evaluatorInit)({ provider })
  evaluator.start()
  cleanups.push(() => {
    evaluator.stop()
    provider.destroy()
  })
  return evaluator
}
