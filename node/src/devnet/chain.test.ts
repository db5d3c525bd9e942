import { createServer } from 'node:net'
import {
  demoMultiTokenAbi,
  demoTokenAbi,
  memberNftAbi,
  smartWalletAbi,
  smartWalletBytecode,
} from '@securechat/sdk/contracts'
import { Contract, ContractFactory, hashMessage, JsonRpcProvider, parseUnits, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_ERC20_AMOUNT, DEMO_ERC1155_AMOUNT, DEMO_ERC1155_ID, HARDHAT_DEV_ACCOUNT_COUNT } from '../constants.ts'
import { ChainStartError, DeployError } from '../errors.ts'
import { type Chain, hardhatDevAccounts, hardhatDevPrivateKeys, startChain } from './chain.ts'
import { type DevnetAddresses, deployContracts, mintDemoTokens } from './deploy.ts'

const ERC1271_MAGIC_VALUE = '0x1626ba7e'
const ERC1271_INVALID = '0xffffffff'

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('devnet chain', () => {
  let chain: Chain
  let provider: JsonRpcProvider
  let accounts: Wallet[]
  let addresses: DevnetAddresses

  beforeAll(async () => {
    chain = await startChain()
    provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
    accounts = hardhatDevPrivateKeys().map((key) => new Wallet(key, provider))
    addresses = await deployContracts({ signer: accounts[0]! })
  })

  afterAll(async () => {
    provider?.destroy()
    await chain?.stop()
  })

  it('behavior: answers on a loopback port with Hardhat’s chain id and funds the 20 derived dev accounts', async () => {
    expect(chain.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(chain.chainId).toBe(31337)
    const rpcAccounts = (await provider.send('eth_accounts', [])) as string[]
    expect(rpcAccounts.map((a) => a.toLowerCase())).toEqual(hardhatDevAccounts().map((a) => a.address.toLowerCase()))
    expect(hardhatDevPrivateKeys()).toHaveLength(HARDHAT_DEV_ACCOUNT_COUNT)
    expect(await provider.getBalance(accounts[19]!.address)).toBeGreaterThan(0n)
  })

  it('behavior: deploys the four contracts', async () => {
    for (const address of Object.values(addresses)) expect(await provider.getCode(address)).not.toBe('0x')
    expect(new Set(Object.values(addresses)).size).toBe(4)
  })

  it('behavior: mintDemoTokens gives each holder one NFT, ERC-1155 id 1 and 1,000 ERC-20', async () => {
    const holders = [accounts[1]!.address, accounts[2]!.address]
    await mintDemoTokens({ signer: accounts[0]!, addresses, holders })

    const nft = new Contract(addresses.memberNft, memberNftAbi, provider)
    const multi = new Contract(addresses.demoMultiToken, demoMultiTokenAbi, provider)
    const token = new Contract(addresses.demoToken, demoTokenAbi, provider)
    for (const holder of holders) {
      expect(await nft.getFunction('balanceOf')(holder)).toBe(1n)
      expect(await multi.getFunction('balanceOf')(holder, DEMO_ERC1155_ID)).toBe(DEMO_ERC1155_AMOUNT)
      expect(await token.getFunction('balanceOf')(holder)).toBe(parseUnits(DEMO_ERC20_AMOUNT.toString(), 18))
    }
    expect(await token.getFunction('balanceOf')(accounts[3]!.address)).toBe(0n)
    expect(await nft.getFunction('ownerOf')(1n)).toBe(holders[0])
    expect(await nft.getFunction('ownerOf')(2n)).toBe(holders[1])
  })

  it('error: DeployError — minting from an account that does not own the tokens', async () => {
    const err = await mintDemoTokens({ signer: accounts[5]!, addresses, holders: [accounts[5]!.address] }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(DeployError)
    expect((err as DeployError).details).toMatchObject({ what: 'MemberNFT', holder: accounts[5]!.address })
  })

  it('error: DeployError — a holder that is not an address', async () => {
    await expect(mintDemoTokens({ signer: accounts[0]!, addresses, holders: ['alice'] })).rejects.toThrow(DeployError)
  })

  it('error: DeployError — a signer without a provider', async () => {
    await expect(deployContracts({ signer: new Wallet(hardhatDevPrivateKeys()[0]!) })).rejects.toThrow(DeployError)
  })

  it('behavior: a SmartWallet owned by account 1 accepts account 1’s SIWE signature and rejects account 2’s', async () => {
    const factory = new ContractFactory(smartWalletAbi, smartWalletBytecode, accounts[0]!)
    const wallet = await factory.deploy(accounts[1]!.address)
    await wallet.waitForDeployment()
    const siwe = `localhost wants you to sign in with your Ethereum account:\n${await wallet.getAddress()}\n\nURI: http://localhost\nVersion: 1\nChain ID: ${chain.chainId}\nNonce: abcdefgh\nIssued At: 2025-01-01T00:00:00Z`
    const isValidSignature = wallet.getFunction('isValidSignature')

    expect(await isValidSignature(hashMessage(siwe), await accounts[1]!.signMessage(siwe))).toBe(ERC1271_MAGIC_VALUE)
    expect(await isValidSignature(hashMessage(siwe), await accounts[2]!.signMessage(siwe))).toBe(ERC1271_INVALID)
  })
})

describe('devnet chain lifecycle', () => {
  it('behavior: stop() kills the node, frees the port and is idempotent', async () => {
    const chain = await startChain({ port: 0 })
    expect(isRunning(chain.pid)).toBe(true)
    await Promise.all([chain.stop(), chain.stop()])
    await chain.stop()
    expect(isRunning(chain.pid)).toBe(false)
    await expect(fetch(chain.rpcUrl, { method: 'POST', body: '{}' })).rejects.toThrow()
  })

  it('behavior: listens on an explicit port', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
    })
    const chain = await startChain({ port, host: '127.0.0.1' })
    try {
      expect(chain.rpcUrl).toBe(`http://127.0.0.1:${port}`)
    } finally {
      await chain.stop()
    }
  })

  it('error: ChainStartError — the port is taken (and no process is left behind)', async () => {
    const server = createServer()
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    )
    try {
      const err = await startChain({ port }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ChainStartError)
      const { details } = err as ChainStartError
      expect(String(details.output)).toMatch(/EADDRINUSE|in use/i)
      expect(isRunning(details.pid as number)).toBe(false)
    } finally {
      server.close()
    }
  })

  it('error: ChainStartError — invalid port, before anything is spawned', async () => {
    await expect(startChain({ port: 70_000 })).rejects.toThrow(ChainStartError)
    await expect(startChain({ port: 1.5 })).rejects.toThrow(/port/)
  })

  it('error: ChainStartError — aborted by the caller', async () => {
    const err = await startChain({}, { signal: AbortSignal.timeout(1) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainStartError)
    expect((err as ChainStartError).message).toBe('startChain aborted')
    const { pid } = (err as ChainStartError).details
    if (pid !== undefined) expect(isRunning(pid as number)).toBe(false)
    const controller = new AbortController()
    controller.abort()
    await expect(startChain({}, { signal: controller.signal })).rejects.toThrow('startChain aborted')
  })
})
