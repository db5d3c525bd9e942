import { expect } from 'chai'
import { network } from 'hardhat'

const { ethers, networkHelpers } = await network.create()

const MAGIC_VALUE = '0x1626ba7e'
const INVALID_SIGNATURE = '0xffffffff'
const SIWE_TEXT = [
  'securechat.example wants you to sign in with your Ethereum account:',
  '0x0000000000000000000000000000000000000001',
  '',
  'URI: https://securechat.example',
  'Version: 1',
  'Chain ID: 31337',
  'Nonce: 32891756',
  'Issued At: 2025-01-01T00:00:00Z',
].join('\n')

async function deployWallet() {
  const [deployer, owner, stranger] = await ethers.getSigners()
  const wallet = await ethers.deployContract('SmartWallet', [owner!.address], deployer!)
  const memberNft = await ethers.deployContract('MemberNFT', [deployer!.address], deployer!)
  const multiToken = await ethers.deployContract('DemoMultiToken', [deployer!.address], deployer!)
  return { wallet, memberNft, multiToken, deployer: deployer!, owner: owner!, stranger: stranger! }
}

describe('SmartWallet', () => {
  describe('isValidSignature', () => {
    it('behavior: the owner’s EIP-191 signature of a SIWE message returns the magic value', async () => {
      const { wallet, owner } = await networkHelpers.loadFixture(deployWallet)
      const signature = await owner.signMessage(SIWE_TEXT)
      expect(await wallet.getFunction('isValidSignature')(ethers.hashMessage(SIWE_TEXT), signature)).to.equal(
        MAGIC_VALUE,
      )
    })

    it('behavior: another signer, another hash or a malformed signature return 0xffffffff without reverting', async () => {
      const { wallet, owner, stranger } = await networkHelpers.loadFixture(deployWallet)
      const hash = ethers.hashMessage(SIWE_TEXT)
      const isValid = wallet.getFunction('isValidSignature')
      const good = await owner.signMessage(SIWE_TEXT)

      expect(await isValid(hash, await stranger.signMessage(SIWE_TEXT))).to.equal(INVALID_SIGNATURE)
      expect(await isValid(ethers.hashMessage('something else'), good)).to.equal(INVALID_SIGNATURE)
      expect(await isValid(hash, '0x')).to.equal(INVALID_SIGNATURE)
      expect(await isValid(hash, '0x1234')).to.equal(INVALID_SIGNATURE)
      expect(await isValid(hash, `0x${'00'.repeat(65)}`)).to.equal(INVALID_SIGNATURE)
      // Same r and s with a v that is neither 27 nor 28.
      expect(await isValid(hash, `${good.slice(0, 130)}1f`)).to.equal(INVALID_SIGNATURE)
    })

    it('behavior: after an ownership transfer only the new owner’s signatures are valid', async () => {
      const { wallet, owner, stranger } = await networkHelpers.loadFixture(deployWallet)
      await expect(wallet.connect(owner).getFunction('transferOwnership')(stranger.address))
        .to.emit(wallet, 'OwnershipTransferred')
        .withArgs(owner.address, stranger.address)
      const hash = ethers.hashMessage(SIWE_TEXT)
      expect(await wallet.getFunction('isValidSignature')(hash, await owner.signMessage(SIWE_TEXT))).to.equal(
        INVALID_SIGNATURE,
      )
      expect(await wallet.getFunction('isValidSignature')(hash, await stranger.signMessage(SIWE_TEXT))).to.equal(
        MAGIC_VALUE,
      )
    })
  })

  describe('holding and moving tokens', () => {
    it('behavior: receives ERC-721 and ERC-1155 tokens and ETH', async () => {
      const { wallet, memberNft, multiToken, deployer } = await networkHelpers.loadFixture(deployWallet)
      const walletAddress = await wallet.getAddress()
      await memberNft.getFunction('mint')(walletAddress)
      await multiToken.getFunction('mint')(walletAddress, 1n, 7n)
      await deployer.sendTransaction({ to: walletAddress, value: 1_000n })

      expect(await memberNft.getFunction('ownerOf')(1n)).to.equal(walletAddress)
      expect(await multiToken.getFunction('balanceOf')(walletAddress, 1n)).to.equal(7n)
      expect(await ethers.provider.getBalance(walletAddress)).to.equal(1_000n)
    })

    it('behavior: execute lets the owner transfer the wallet’s NFT and emits Executed', async () => {
      const { wallet, memberNft, owner, stranger } = await networkHelpers.loadFixture(deployWallet)
      const walletAddress = await wallet.getAddress()
      const nftAddress = await memberNft.getAddress()
      await memberNft.getFunction('mint')(walletAddress)
      const data = memberNft.interface.encodeFunctionData('transferFrom', [walletAddress, stranger.address, 1n])

      await expect(wallet.connect(owner).getFunction('execute')(nftAddress, 0n, data))
        .to.emit(wallet, 'Executed')
        .withArgs(nftAddress, 0n, data)
      expect(await memberNft.getFunction('ownerOf')(1n)).to.equal(stranger.address)
    })

    it('behavior: execute forwards ETH and returns the call’s return data', async () => {
      const { wallet, memberNft, owner, stranger, deployer } = await networkHelpers.loadFixture(deployWallet)
      const walletAddress = await wallet.getAddress()
      await deployer.sendTransaction({ to: walletAddress, value: 1_000n })
      await expect(wallet.connect(owner).getFunction('execute')(stranger.address, 400n, '0x')).to.changeEtherBalances(
        ethers,
        [walletAddress, stranger.address],
        [-400n, 400n],
      )

      const nftAddress = await memberNft.getAddress()
      const data = memberNft.interface.encodeFunctionData('nextTokenId')
      const result = await wallet.connect(owner).getFunction('execute').staticCall(nftAddress, 0n, data)
      expect(result).to.equal(ethers.toBeHex(1n, 32))
    })

    it('error: OwnableUnauthorizedAccount — only the owner executes', async () => {
      const { wallet, stranger } = await networkHelpers.loadFixture(deployWallet)
      await expect(wallet.connect(stranger).getFunction('execute')(stranger.address, 0n, '0x'))
        .to.be.revertedWithCustomError(wallet, 'OwnableUnauthorizedAccount')
        .withArgs(stranger.address)
    })

    it('error: a reverting call bubbles its custom error up unchanged', async () => {
      const { wallet, memberNft, owner } = await networkHelpers.loadFixture(deployWallet)
      const data = memberNft.interface.encodeFunctionData('mint', [owner.address])
      await expect(wallet.connect(owner).getFunction('execute')(await memberNft.getAddress(), 0n, data))
        .to.be.revertedWithCustomError(memberNft, 'OwnableUnauthorizedAccount')
        .withArgs(await wallet.getAddress())
    })

    it('error: SmartWalletInsufficientBalance — sending more ETH than the wallet holds', async () => {
      const { wallet, owner, stranger } = await networkHelpers.loadFixture(deployWallet)
      await expect(wallet.connect(owner).getFunction('execute')(stranger.address, 2n, '0x', { value: 1n }))
        .to.be.revertedWithCustomError(wallet, 'SmartWalletInsufficientBalance')
        .withArgs(1n, 2n)
    })

    it('error: FailedCall — a call that reverts without data', async () => {
      const { wallet, memberNft, owner } = await networkHelpers.loadFixture(deployWallet)
      // MemberNFT has no fallback function, so an unknown selector reverts with empty data.
      await expect(wallet.connect(owner).getFunction('execute')(await memberNft.getAddress(), 0n, '0xdeadbeef'))
        .to.be.revertedWithCustomError(wallet, 'FailedCall')
        .withArgs()
    })
  })

  describe('supportsInterface', () => {
    it('behavior: reports ERC-165, ERC-1271 and ERC-1155 receiver, and nothing else', async () => {
      const { wallet } = await networkHelpers.loadFixture(deployWallet)
      const supports = wallet.getFunction('supportsInterface')
      expect(await supports('0x01ffc9a7')).to.equal(true) // ERC-165
      expect(await supports('0x1626ba7e')).to.equal(true) // ERC-1271
      expect(await supports('0x4e2312e0')).to.equal(true) // ERC-1155 receiver
      expect(await supports('0xffffffff')).to.equal(false)
    })
  })
})
