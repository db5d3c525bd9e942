import { generateKeyPair } from '@libp2p/crypto/keys'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { smartWalletAbi, smartWalletBytecode } from '@securechat/sdk/contracts'
import { createCertificate, verifyCertificate, walletSigner } from '@securechat/sdk/identity'
import type { RoomMessage } from '@securechat/sdk/types'
import { ContractFactory, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'

let chain: TestChain
let walletAddress: string

beforeAll(async () => {
  chain = await startTestChain()
  const owner = chain.accounts[1]!
  const factory = new ContractFactory(smartWalletAbi, smartWalletBytecode, chain.accounts[0]!)
  const wallet = await factory.deploy(owner.address)
  await wallet.waitForDeployment()
  walletAddress = await wallet.getAddress()
})

afterAll(async () => {
  await chain?.stop()
})

describe('contract wallets (ERC-1271) on Hardhat', () => {
  it('behavior: a certificate signed for a SmartWallet by its owner verifies with a provider', async () => {
    const signer = walletSigner({ type: 'contract', address: walletAddress, signer: chain.accounts[1]! })
    const peerId = 'not-a-real-peer-id-but-bound-anyway'
    const certificate = await createCertificate({ signer, peerId, domain: 'localhost', chainId: chain.chainId })
    const verified = await verifyCertificate({ certificate, peerId, provider: chain.provider })
    expect(verified.address).toBe(walletAddress)
    expect(verified.signatureType).toBe('erc1271')
  })

  it('error: a certificate for the SmartWallet signed by someone else is a bad signature', async () => {
    const signer = walletSigner({ type: 'contract', address: walletAddress, signer: Wallet.createRandom() })
    const certificate = await createCertificate({ signer, peerId: 'p', domain: 'localhost', chainId: chain.chainId })
    await expect(verifyCertificate({ certificate, peerId: 'p', provider: chain.provider })).rejects.toMatchObject({
      name: 'InvalidCertificateError',
      reason: 'bad-signature',
    })
    await expect(verifyCertificate({ certificate, peerId: 'p' })).rejects.toMatchObject({
      reason: 'contract-wallet-unverifiable',
    })
  })

  it('behavior: a contract wallet signs in and chats through a relay that checks the chain', async () => {
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      provider: chain.provider,
    })
    await relay.start()
    const clients: SecureChatClient[] = []
    try {
      const bootstrap = [relay.multiaddrs[0]!]
      const contractMember = createClient({
        domain: DEFAULT_CLI_DOMAIN,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'contract', address: walletAddress, signer: chain.accounts[1]! }),
        bootstrap,
        provider: chain.provider,
      })
      const listener = createClient({
        domain: DEFAULT_CLI_DOMAIN,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }),
        bootstrap,
        provider: chain.provider,
      })
      clients.push(contractMember, listener)
      await Promise.all(clients.map((c) => c.start()))
      expect(contractMember.address).toBe(walletAddress)

      const { room, invite } = await listener.createRoom({ name: 'dao' })
      const received = new Promise<RoomMessage>((resolve) => {
        room.addEventListener('message:received', (event) => resolve(event.detail), { once: true })
      })
      await room.waitForPeers({ signal: AbortSignal.timeout(10_000) })
      const memberRoom = await contractMember.joinRoom(invite)
      await memberRoom.waitForPeers({ signal: AbortSignal.timeout(10_000) })
      await memberRoom.send('signed by a contract wallet')
      const message = await received
      expect(message.sender).toBe(walletAddress)
      expect(message.text).toBe('signed by a contract wallet')
    } finally {
      await Promise.all(clients.map((c) => c.stop()))
      await relay.stop()
    }
  })
})
