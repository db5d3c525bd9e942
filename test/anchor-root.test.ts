/**
 * `anchorRoot` on Hardhat's network, with both kinds of payer: an ethers signer (the relay's anchorer,
 * `securechat anchor`) and an EIP-1193 wallet (the web app's), here Hardhat's own JSON-RPC, which signs for its
 * unlocked dev accounts as a browser wallet would after its prompt.
 */
import { anchorRoot, auditLogReader, WalletRejectedError, WrongChainError } from '@securechat/sdk/audit'
import type { Eip1193Provider } from '@securechat/sdk/types'
import { hexlify, randomBytes } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestChain, type TestChain } from './helpers/chain.ts'

let chain: TestChain

beforeAll(async () => {
  chain = await startTestChain()
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

interface TestWallet extends Eip1193Provider {
  /** Every method asked, in order. */
  readonly asked: string[]
}

/** Hardhat's JSON-RPC as an EIP-1193 wallet; `answer` overrides what it says to a method. */
function hardhatWallet(answer: (method: string) => unknown = () => undefined): TestWallet {
  const asked: string[] = []
  return {
    asked,
    async request({ method, params }) {
      asked.push(method)
      const override = answer(method)
      if (override instanceof Error) throw override
      if (override !== undefined) return override
      return chain.provider.send(method, params ?? [])
    },
  }
}

const newRoot = (): string => hexlify(randomBytes(32))

describe('anchorRoot: an ethers signer or an EIP-1193 wallet', () => {
  it('behavior: a wallet anchors a root with one eth_sendTransaction; the receipt is read over the provider; again it is already anchored', async () => {
    const wallet = hardhatWallet()
    const account = chain.accounts[4]!.address
    const root = newRoot()
    const sent: string[] = []
    const params = {
      type: 'eip1193',
      wallet,
      account,
      provider: chain.provider,
      address: chain.addresses.auditLog,
      root,
      count: 3,
      cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      receiptPollIntervalMs: 50,
      onSent: (hash: string) => sent.push(hash),
    } as const
    const result = await anchorRoot(params)
    expect(result.status).toBe('anchored')
    if (result.status !== 'anchored') return
    expect(sent).toEqual([result.transactionHash])
    expect(wallet.asked.filter((m) => m === 'eth_sendTransaction')).toHaveLength(1)
    const receipt = await chain.provider.getTransactionReceipt(result.transactionHash)
    expect(receipt?.from).toBe(account)
    expect(receipt?.blockNumber).toBe(result.anchor.blockNumber)
    const reader = auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })
    expect((await reader.anchorOf(root))?.anchorer).toBe(account)

    const again = await anchorRoot(params)
    expect(again).toEqual({ status: 'already-anchored', anchor: result.anchor })
    expect(wallet.asked.filter((m) => m === 'eth_sendTransaction')).toHaveLength(1)
  })

  it('behavior: a root the signer anchored is already anchored for a wallet, which sends nothing', async () => {
    const root = newRoot()
    const common = { address: chain.addresses.auditLog, root, count: 1, cid: 'x', receiptPollIntervalMs: 50 }
    const bySigner = await anchorRoot({ ...common, signer: chain.accounts[5]! })
    expect(bySigner.status).toBe('anchored')
    const wallet = hardhatWallet()
    const byWallet = await anchorRoot({
      ...common,
      type: 'eip1193',
      wallet,
      account: chain.accounts[4]!.address,
      provider: chain.provider,
    })
    expect(byWallet).toEqual({ status: 'already-anchored', anchor: bySigner.anchor })
    expect(wallet.asked).toEqual([])
  })

  it('error: the wallet’s user rejects (EIP-1193 4001): WalletRejectedError, and the root stays unanchored', async () => {
    const root = newRoot()
    const rejection = Object.assign(new Error('User rejected the request.'), { code: 4001 })
    const wallet = hardhatWallet((method) => (method === 'eth_sendTransaction' ? rejection : undefined))
    const anchoring = anchorRoot({
      type: 'eip1193',
      wallet,
      account: chain.accounts[4]!.address,
      provider: chain.provider,
      address: chain.addresses.auditLog,
      root,
      count: 1,
      cid: 'x',
    })
    await expect(anchoring).rejects.toBeInstanceOf(WalletRejectedError)
    const reader = auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })
    expect(await reader.anchorOf(root)).toBeUndefined()
  })

  it('error: a wallet on another chain than the provider: WrongChainError naming both, and no transaction', async () => {
    const wallet = hardhatWallet((method) => (method === 'eth_chainId' ? '0x1' : undefined))
    const failure = await anchorRoot({
      type: 'eip1193',
      wallet,
      account: chain.accounts[4]!.address,
      provider: chain.provider,
      address: chain.addresses.auditLog,
      root: newRoot(),
      count: 1,
      cid: 'x',
    }).catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(WrongChainError)
    expect((failure as WrongChainError).details).toEqual({ walletChainId: 1, chainId: chain.chainId })
    expect(wallet.asked).not.toContain('eth_sendTransaction')
  })
})
