import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { utf8 } from '../encoding.ts'
import type { Address } from '../types.ts'
import { buildBatchSync, decodeLeafList, encodeLeafList, proveInclusion } from './batch.ts'
import type { AuditLogReader } from './chain.ts'
import { AuditLogUnavailableError, InvalidLeafListError } from './errors.ts'
import { type AuditLeaf, leafOfRecord } from './leaf.ts'
import { fakeReader, OTHER_ROOM, ROOM, record } from './testing.ts'
import { type InclusionEvidence, VerifyFailure, verifyInclusion } from './verify.ts'

const sender = new Wallet(`0x${'11'.repeat(32)}`).address as Address
const other = new Wallet(`0x${'22'.repeat(32)}`).address as Address

function setup() {
  const messages = [1, 2, 3, 4].map((lamport) => record({ lamport }))
  const leaves: AuditLeaf[] = messages.map((m) => leafOfRecord({ record: m.text, sender }))
  // Another room in the same batch: batches span rooms.
  leaves.push(leafOfRecord({ record: record({ room: OTHER_ROOM, lamport: 1 }).text, sender: other }))
  const batch = buildBatchSync(leaves)
  const reader = fakeReader()
  reader.anchor(batch.root, 42)
  const evidence = (id: string): InclusionEvidence => proveInclusion(batch, { messageId: id })!
  return { messages, batch, reader, evidence }
}

describe('verifyInclusion', () => {
  it('behavior: a message in an anchored batch verifies, with block, time and anchorer', async () => {
    const { messages, reader, evidence } = setup()
    const m = messages[1]!
    const verdict = await verifyInclusion({
      claim: { roomId: ROOM, messageId: m.id, sender, record: m.text },
      evidence: evidence(m.id),
      reader,
    })
    expect(verdict.failures).toEqual([])
    expect(verdict.ok).toBe(true)
    expect(verdict.anchor?.blockNumber).toBe(42)
    expect(verdict.leaf?.sender).toBe(sender)
  })

  it('error: tampered — one flipped byte in the ciphertext', async () => {
    const { messages, reader, evidence } = setup()
    const m = messages[2]!
    const ct = JSON.parse(m.text).payload.ct as string
    const flipped = m.text.replace(ct, `${ct.slice(0, 3)}${ct[3] === 'A' ? 'B' : 'A'}${ct.slice(4)}`)
    const verdict = await verifyInclusion({
      claim: { roomId: ROOM, messageId: m.id, sender, record: flipped },
      evidence: evidence(m.id),
      reader,
    })
    expect(verdict.ok).toBe(false)
    expect(verdict.failures.map((f) => f.reason)).toEqual([VerifyFailure.tampered])
  })

  it('error: wrong-sender — the claim names another wallet', async () => {
    const { messages, reader, evidence } = setup()
    const m = messages[0]!
    const flipped = `${sender.slice(0, -1)}${sender.endsWith('0') ? '1' : '0'}`
    const verdict = await verifyInclusion({
      claim: { roomId: ROOM, messageId: m.id, sender: flipped, record: m.text },
      evidence: evidence(m.id),
      reader,
    })
    expect(verdict.failures.map((f) => f.reason)).toEqual([VerifyFailure.wrongSender])
  })

  it('error: wrong-timestamp — one flipped digit of sentAtMs in the record', async () => {
    const { messages, reader, evidence } = setup()
    const m = messages[0]!
    const flipped = m.text.replace('"sentAtMs":1700000000001', '"sentAtMs":1700000000009')
    expect(flipped).not.toBe(m.text)
    const verdict = await verifyInclusion({
      claim: { roomId: ROOM, messageId: m.id, sender, record: flipped },
      evidence: evidence(m.id),
      reader,
    })
    expect(verdict.failures.map((f) => f.reason)).toEqual([VerifyFailure.wrongTimestamp, VerifyFailure.tampered])
  })

  it('error: wrong-room — claimed for another room, or the record names another room', async () => {
    const { messages, reader, evidence } = setup()
    const m = messages[3]!
    const claimed = await verifyInclusion({
      claim: { roomId: OTHER_ROOM, messageId: m.id, sender, record: m.text },
      evidence: evidence(m.id),
      reader,
    })
    expect(claimed.failures.map((f) => f.reason)).toEqual([VerifyFailure.wrongRoom])
    const flipped = m.text.replace(ROOM, `${ROOM.slice(0, -1)}0`)
    const inRecord = await verifyInclusion({
      claim: { roomId: ROOM, messageId: m.id, sender, record: flipped },
      evidence: evidence(m.id),
      reader,
    })
    expect(inRecord.failures.map((f) => f.reason)).toEqual([VerifyFailure.wrongRoom, VerifyFailure.tampered])
  })

  it('error: unanchored, root-not-on-chain, bad-proof, chain-unavailable', async () => {
    const { messages, reader, evidence, batch } = setup()
    const m = messages[0]!
    const claim = { roomId: ROOM, messageId: m.id }
    expect((await verifyInclusion({ claim, evidence: undefined, reader })).failures[0]?.reason).toBe(
      VerifyFailure.unanchored,
    )
    expect((await verifyInclusion({ claim, evidence: evidence(m.id), reader: fakeReader() })).failures[0]?.reason).toBe(
      VerifyFailure.rootNotOnChain,
    )
    const bad = { ...evidence(m.id), proof: [...evidence(m.id).proof].reverse() }
    expect((await verifyInclusion({ claim, evidence: bad, reader })).failures[0]?.reason).toBe(VerifyFailure.badProof)
    const down: Pick<AuditLogReader, 'anchorOf'> = {
      anchorOf: async () => {
        throw new AuditLogUnavailableError('rpc down')
      },
    }
    expect((await verifyInclusion({ claim, evidence: evidence(m.id), reader: down })).failures[0]?.reason).toBe(
      VerifyFailure.chainUnavailable,
    )
    expect(batch.count).toBe(5)
  })
})

describe('leaf lists', () => {
  it('behavior: the encoded leaf list decodes to the same batch and root', async () => {
    const { batch } = setup()
    const decoded = await decodeLeafList(encodeLeafList(batch), { expectedRoot: batch.root })
    expect(decoded.root).toBe(batch.root)
    expect(decoded.leaves).toEqual(batch.leaves)
  })

  it('error: a leaf list for another root, or with a changed leaf, is refused', async () => {
    const { batch } = setup()
    await expect(decodeLeafList(encodeLeafList(batch), { expectedRoot: `0x${'00'.repeat(32)}` })).rejects.toThrow(
      InvalidLeafListError,
    )
    const list = JSON.parse(utf8.decode(encodeLeafList(batch)))
    list.values[0].value[3] = '1'
    await expect(decodeLeafList(list)).rejects.toThrow(InvalidLeafListError)
    await expect(decodeLeafList(utf8.encode('{"format":"standard-v1"'))).rejects.toThrow(InvalidLeafListError)
  })
})
