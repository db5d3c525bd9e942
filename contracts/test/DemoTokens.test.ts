import { expect } from 'chai'
import { network } from 'hardhat'

const { ethers, networkHelpers } = await network.create()

async function deployTokens() {
  const [owner, holder, stranger] = await ethers.getSigners()
  const memberNft = await ethers.deployContract('MemberNFT', [owner!.address])
  const multiToken = await ethers.deployContract('DemoMultiToken', [owner!.address])
  const token = await ethers.deployContract('DemoToken', [owner!.address])
  return { memberNft, multiToken, token, owner: owner!, holder: holder!, stranger: stranger! }
}

describe('MemberNFT', () => {
  it('behavior: deploys with name, symbol, owner and first id 1', async () => {
    const { memberNft, owner } = await networkHelpers.loadFixture(deployTokens)
    expect(await memberNft.getFunction('name')()).to.equal('SecureChat Member')
    expect(await memberNft.getFunction('symbol')()).to.equal('SCMEMBER')
    expect(await memberNft.getFunction('owner')()).to.equal(owner.address)
    expect(await memberNft.getFunction('nextTokenId')()).to.equal(1n)
  })

  it('behavior: mint returns sequential ids and emits Transfer', async () => {
    const { memberNft, holder, stranger } = await networkHelpers.loadFixture(deployTokens)
    expect(await memberNft.getFunction('mint').staticCall(holder.address)).to.equal(1n)
    await expect(memberNft.getFunction('mint')(holder.address))
      .to.emit(memberNft, 'Transfer')
      .withArgs(ethers.ZeroAddress, holder.address, 1n)
    await expect(memberNft.getFunction('mint')(stranger.address))
      .to.emit(memberNft, 'Transfer')
      .withArgs(ethers.ZeroAddress, stranger.address, 2n)
    expect(await memberNft.getFunction('ownerOf')(1n)).to.equal(holder.address)
    expect(await memberNft.getFunction('balanceOf')(holder.address)).to.equal(1n)
    expect(await memberNft.getFunction('nextTokenId')()).to.equal(3n)
  })

  it('error: OwnableUnauthorizedAccount — only the owner mints', async () => {
    const { memberNft, stranger } = await networkHelpers.loadFixture(deployTokens)
    await expect(memberNft.connect(stranger).getFunction('mint')(stranger.address))
      .to.be.revertedWithCustomError(memberNft, 'OwnableUnauthorizedAccount')
      .withArgs(stranger.address)
  })

  it('error: ERC721InvalidReceiver — a contract that cannot receive NFTs is refused', async () => {
    const { memberNft, token } = await networkHelpers.loadFixture(deployTokens)
    const target = await token.getAddress()
    await expect(memberNft.getFunction('mint')(target))
      .to.be.revertedWithCustomError(memberNft, 'ERC721InvalidReceiver')
      .withArgs(target)
  })
})

describe('DemoMultiToken', () => {
  it('behavior: mint credits the id and emits TransferSingle', async () => {
    const { multiToken, owner, holder } = await networkHelpers.loadFixture(deployTokens)
    expect(await multiToken.getFunction('owner')()).to.equal(owner.address)
    await expect(multiToken.getFunction('mint')(holder.address, 1n, 5n))
      .to.emit(multiToken, 'TransferSingle')
      .withArgs(owner.address, ethers.ZeroAddress, holder.address, 1n, 5n)
    expect(await multiToken.getFunction('balanceOf')(holder.address, 1n)).to.equal(5n)
    expect(await multiToken.getFunction('balanceOf')(holder.address, 2n)).to.equal(0n)
  })

  it('error: OwnableUnauthorizedAccount — only the owner mints', async () => {
    const { multiToken, stranger } = await networkHelpers.loadFixture(deployTokens)
    await expect(multiToken.connect(stranger).getFunction('mint')(stranger.address, 1n, 1n))
      .to.be.revertedWithCustomError(multiToken, 'OwnableUnauthorizedAccount')
      .withArgs(stranger.address)
  })
})

describe('DemoToken', () => {
  it('behavior: mint credits the balance and the supply and emits Transfer', async () => {
    const { token, owner, holder } = await networkHelpers.loadFixture(deployTokens)
    const amount = ethers.parseUnits('1000', 18)
    expect(await token.getFunction('owner')()).to.equal(owner.address)
    expect(await token.getFunction('decimals')()).to.equal(18n)
    await expect(token.getFunction('mint')(holder.address, amount))
      .to.emit(token, 'Transfer')
      .withArgs(ethers.ZeroAddress, holder.address, amount)
    expect(await token.getFunction('balanceOf')(holder.address)).to.equal(amount)
    expect(await token.getFunction('totalSupply')()).to.equal(amount)
  })

  it('error: OwnableUnauthorizedAccount — only the owner mints', async () => {
    const { token, stranger } = await networkHelpers.loadFixture(deployTokens)
    await expect(token.connect(stranger).getFunction('mint')(stranger.address, 1n))
      .to.be.revertedWithCustomError(token, 'OwnableUnauthorizedAccount')
      .withArgs(stranger.address)
  })
})

describe('constructors', () => {
  for (const name of ['MemberNFT', 'DemoMultiToken', 'DemoToken', 'SmartWallet'] as const) {
    it(`error: OwnableInvalidOwner — ${name} refuses the zero owner`, async () => {
      const factory = await ethers.getContractFactory(name)
      await expect(factory.deploy(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(factory, 'OwnableInvalidOwner')
        .withArgs(ethers.ZeroAddress)
    })
  }
})
