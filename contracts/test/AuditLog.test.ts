import { anyUint } from '@nomicfoundation/hardhat-ethers-chai-matchers/withArgs'
import { expect } from 'chai'
import { network } from 'hardhat'

const { ethers, networkHelpers } = await network.create()

// A CIDv1 (raw, sha2-256, base32) as relays publish leaf lists: 59 characters, the usual length.
const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const ROOT = ethers.keccak256(ethers.toUtf8Bytes('batch 1'))
/** Batch sizes reported in the gas table; the project goal is ≤ 30 gas per message at 1,000. */
const GAS_BATCH_SIZES = [10, 1_000, 100_000] as const
/** Regression ceiling for one anchor transaction (see the decision at the top of AuditLog.sol). */
const MAX_ANCHOR_GAS = 50_000n

async function deployAuditLog() {
  const [relay, member] = await ethers.getSigners()
  const auditLog = await ethers.deployContract('AuditLog')
  return { auditLog, relay: relay!, member: member! }
}

describe('AuditLog', () => {
  describe('anchor', () => {
    it('behavior: records anchorer, block number and timestamp, and emits Anchored', async () => {
      const { auditLog, member } = await networkHelpers.loadFixture(deployAuditLog)

      const tx = auditLog.connect(member).getFunction('anchor')(ROOT, 1_000, CID)
      await expect(tx).to.emit(auditLog, 'Anchored').withArgs(ROOT, member.address, 1_000, CID)

      const receipt = await (await tx).wait()
      const block = await ethers.provider.getBlock(receipt!.blockNumber)
      const [anchorer, blockNumber, timestamp] = await auditLog.getFunction('anchorOf')(ROOT)
      expect(anchorer).to.equal(member.address)
      expect(blockNumber).to.equal(receipt!.blockNumber)
      expect(timestamp).to.equal(block!.timestamp)
      expect(await auditLog.getFunction('isAnchored')(ROOT)).to.equal(true)
    })

    it('behavior: anchoring is permissionless (a relay and a member anchor different roots)', async () => {
      const { auditLog, relay, member } = await networkHelpers.loadFixture(deployAuditLog)
      const other = ethers.keccak256(ethers.toUtf8Bytes('batch 2'))

      await expect(auditLog.connect(relay).getFunction('anchor')(ROOT, 3, CID))
        .to.emit(auditLog, 'Anchored')
        .withArgs(ROOT, relay.address, 3, CID)
      await expect(auditLog.connect(member).getFunction('anchor')(other, 1, CID))
        .to.emit(auditLog, 'Anchored')
        .withArgs(other, member.address, 1, CID)
      expect((await auditLog.getFunction('anchorOf')(ROOT))[0]).to.equal(relay.address)
      expect((await auditLog.getFunction('anchorOf')(other))[0]).to.equal(member.address)
    })

    it('error: AuditLogRootAlreadyAnchored — a replay reverts and the first anchor stands', async () => {
      const { auditLog, relay, member } = await networkHelpers.loadFixture(deployAuditLog)
      await auditLog.connect(relay).getFunction('anchor')(ROOT, 1_000, CID)
      const first = await auditLog.getFunction('anchorOf')(ROOT)
      await networkHelpers.mine(10)

      await expect(auditLog.connect(member).getFunction('anchor')(ROOT, 1_000, CID))
        .to.be.revertedWithCustomError(auditLog, 'AuditLogRootAlreadyAnchored')
        .withArgs(ROOT, first[1])
      expect(await auditLog.getFunction('anchorOf')(ROOT)).to.deep.equal(first)
    })

    it('error: AuditLogZeroRoot', async () => {
      const { auditLog } = await networkHelpers.loadFixture(deployAuditLog)
      await expect(auditLog.getFunction('anchor')(ethers.ZeroHash, 1, CID))
        .to.be.revertedWithCustomError(auditLog, 'AuditLogZeroRoot')
        .withArgs()
    })

    it('error: AuditLogZeroCount', async () => {
      const { auditLog } = await networkHelpers.loadFixture(deployAuditLog)
      await expect(auditLog.getFunction('anchor')(ROOT, 0, CID))
        .to.be.revertedWithCustomError(auditLog, 'AuditLogZeroCount')
        .withArgs(ROOT)
    })

    it('error: AuditLogEmptyCid', async () => {
      const { auditLog } = await networkHelpers.loadFixture(deployAuditLog)
      await expect(auditLog.getFunction('anchor')(ROOT, 1, ''))
        .to.be.revertedWithCustomError(auditLog, 'AuditLogEmptyCid')
        .withArgs(ROOT)
    })

    it('behavior: the largest uint32 count is accepted', async () => {
      const { auditLog, relay } = await networkHelpers.loadFixture(deployAuditLog)
      await expect(auditLog.getFunction('anchor')(ROOT, 2 ** 32 - 1, CID))
        .to.emit(auditLog, 'Anchored')
        .withArgs(ROOT, relay.address, 2 ** 32 - 1, CID)
    })
  })

  describe('anchorOf / isAnchored', () => {
    it('behavior: an unknown root reads as zero and not anchored', async () => {
      const { auditLog } = await networkHelpers.loadFixture(deployAuditLog)
      const [anchorer, blockNumber, timestamp] = await auditLog.getFunction('anchorOf')(ROOT)
      expect(anchorer).to.equal(ethers.ZeroAddress)
      expect(blockNumber).to.equal(0n)
      expect(timestamp).to.equal(0n)
      expect(await auditLog.getFunction('isAnchored')(ROOT)).to.equal(false)
    })

    it('behavior: the anchor time is the block time, not a caller-supplied time', async () => {
      const { auditLog, relay } = await networkHelpers.loadFixture(deployAuditLog)
      const at = (await networkHelpers.time.latest()) + 3_600
      await networkHelpers.time.setNextBlockTimestamp(at)
      await expect(auditLog.getFunction('anchor')(ROOT, 1, CID))
        .to.emit(auditLog, 'Anchored')
        .withArgs(ROOT, relay.address, anyUint, CID)
      const [, , timestamp] = await auditLog.getFunction('anchorOf')(ROOT)
      expect(timestamp).to.equal(at)
    })
  })

  describe('gas', () => {
    it(`gas: anchor per message at batch sizes ${GAS_BATCH_SIZES.join(', ')}`, async () => {
      const { auditLog } = await networkHelpers.loadFixture(deployAuditLog)
      const rows: { batch: number; gas: bigint; gasPerMessage: number }[] = []
      for (const batch of GAS_BATCH_SIZES) {
        const root = ethers.keccak256(ethers.toUtf8Bytes(`gas batch ${batch}`))
        const receipt = await (await auditLog.getFunction('anchor')(root, batch, CID)).wait()
        const gas = receipt!.gasUsed
        expect(gas).to.be.lessThanOrEqual(MAX_ANCHOR_GAS)
        rows.push({ batch, gas, gasPerMessage: Number(gas) / batch })
      }
      console.log('\n    AuditLog.anchor gas (59-character CID)')
      console.log('    | batch (messages) | gas per tx | gas per message |')
      console.log('    | ---: | ---: | ---: |')
      for (const { batch, gas, gasPerMessage } of rows) {
        console.log(`    | ${batch.toLocaleString('en')} | ${gas.toLocaleString('en')} | ${gasPerMessage.toFixed(2)} |`)
      }
    })
  })
})
