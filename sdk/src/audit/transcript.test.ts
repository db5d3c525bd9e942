import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import type { Address } from '../types.ts'
import { buildBatchSync } from './batch.ts'
import type { AnchoredEvent } from './chain.ts'
import { InvalidTranscriptError } from './errors.ts'
import { leafOfRecord } from './leaf.ts'
import type { FoundBatch } from './lookup.ts'
import { fakeReader, OTHER_ROOM, ROOM, record } from './testing.ts'
import { buildTranscript, parseTranscript, verifyTranscript } from './transcript.ts'

const alice = new Wallet(`0x${'11'.repeat(32)}`).address as Address
const bob = new Wallet(`0x${'22'.repeat(32)}`).address as Address

/** Six messages, alternating senders, each naming the previous two in its causal history. */
function history() {
  const out: Array<{ text: string; id: string; sender: Address; senderPeerId: string }> = []
  for (let lamport = 1; lamport <= 6; lamport++) {
    const deps = out.slice(-2).map((m) => m.id)
    const sender = lamport % 2 === 1 ? alice : bob
    out.push({ ...record({ lamport, deps }), sender, senderPeerId: sender === alice ? 'peer-alice' : 'peer-bob' })
  }
  return out
}

function anchoredBatch(messages: ReturnType<typeof history>, block: number, reader: ReturnType<typeof fakeReader>) {
  const leaves = messages.map((m) => leafOfRecord({ record: m.text, sender: m.sender }))
  leaves.push(leafOfRecord({ record: record({ room: OTHER_ROOM, lamport: block }).text, sender: bob }))
  const batch = buildBatchSync(leaves)
  reader.anchor(batch.root, block)
  const event: AnchoredEvent = {
    root: batch.root,
    anchorer: alice,
    count: batch.count,
    cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
    blockNumber: block,
    transactionHash: `0x${'ab'.repeat(32)}`,
  }
  return { event, batch } satisfies FoundBatch
}

function transcriptOf(messages: ReturnType<typeof history>, batches: FoundBatch[]) {
  return buildTranscript({
    room: { id: ROOM, name: 'lobby' },
    chain: { chainId: 31337, auditLog: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
    messages: messages.map((m) => ({ id: m.id, sender: m.sender, senderPeerId: m.senderPeerId, record: m.text })),
    batches,
  })
}

describe('transcripts', () => {
  it('behavior: every message anchored across two batches verifies offline; round-trips through JSON', async () => {
    const reader = fakeReader()
    const messages = history()
    const transcript = transcriptOf(messages, [
      anchoredBatch(messages.slice(0, 3), 10, reader),
      anchoredBatch(messages.slice(3), 11, reader),
    ])
    const parsed = parseTranscript(JSON.stringify(transcript))
    const verdict = await verifyTranscript(parsed, reader)
    expect(verdict.messages.map((m) => m.status)).toEqual(Array(6).fill('anchored'))
    expect(verdict.gaps).toEqual([])
    expect(verdict.ok).toBe(true)
  })

  it('behavior: messages after the last anchor are "not anchored yet", which is no failure', async () => {
    const reader = fakeReader()
    const messages = history()
    const verdict = await verifyTranscript(
      transcriptOf(messages, [anchoredBatch(messages.slice(0, 4), 10, reader)]),
      reader,
    )
    expect(verdict.messages.map((m) => m.status)).toEqual([...Array(4).fill('anchored'), 'unanchored', 'unanchored'])
    expect(verdict.ok).toBe(true)
  })

  it('error: gap — a relay anchored a batch without message 3 while anchoring later ones', async () => {
    const reader = fakeReader()
    const messages = history()
    const withoutThird = messages.filter((_, i) => i !== 2)
    const verdict = await verifyTranscript(transcriptOf(messages, [anchoredBatch(withoutThird, 10, reader)]), reader)
    expect(verdict.ok).toBe(false)
    expect(verdict.messages[2]?.status).toBe('gap')
    expect(verdict.gaps).toEqual([expect.objectContaining({ messageId: messages[2]!.id, evidence: 'causal-history' })])
  })

  it('error: gap by the sender’s clock — a later message of the same device is anchored', async () => {
    const reader = fakeReader()
    // No causal history at all: only the device's Lamport clock orders its messages.
    const messages = [1, 2, 3].map((lamport) => ({
      ...record({ lamport }),
      sender: alice,
      senderPeerId: 'peer-alice',
    }))
    const verdict = await verifyTranscript(
      transcriptOf(messages, [anchoredBatch([messages[0]!, messages[2]!], 10, reader)]),
      reader,
    )
    expect(verdict.gaps).toEqual([expect.objectContaining({ messageId: messages[1]!.id, evidence: 'sender-clock' })])
    expect(verdict.ok).toBe(false)
  })

  it('error: a record, sender or room changed in the transcript fails that message with the reason', async () => {
    const reader = fakeReader()
    const messages = history()
    const transcript = transcriptOf(messages, [anchoredBatch(messages, 10, reader)])
    const ct = JSON.parse(transcript.messages[0]!.record).payload.ct as string
    transcript.messages[0]!.record = transcript.messages[0]!.record.replace(ct, `${ct.slice(0, -1)}A`)
    transcript.messages[1]!.sender = alice === transcript.messages[1]!.sender ? bob : alice
    const verdict = await verifyTranscript(transcript, reader)
    expect(verdict.messages[0]?.verdict.failures.map((f) => f.reason)).toEqual(['tampered'])
    expect(verdict.messages[1]?.verdict.failures.map((f) => f.reason)).toEqual(['wrong-sender'])
    expect(verdict.ok).toBe(false)
    const otherRoom = await verifyTranscript({ ...transcript, room: { id: OTHER_ROOM } }, reader)
    expect(otherRoom.messages[3]?.verdict.failures.map((f) => f.reason)).toContain('wrong-room')
  })

  it('error: a batch whose root is not on chain fails; a partial export is noted', async () => {
    const messages = history()
    const batch = anchoredBatch(messages, 10, fakeReader())
    const verdict = await verifyTranscript(transcriptOf(messages.slice(0, 2), [batch]), fakeReader())
    expect(verdict.batches[0]?.problems).toEqual(['its root is not anchored in the audit log'])
    expect(verdict.messages[0]?.verdict.failures[0]?.reason).toBe('root-not-on-chain')
    expect(verdict.omitted).toHaveLength(4)
    expect(verdict.ok).toBe(false)
  })

  it('error: malformed transcripts are refused with the path', () => {
    expect(() => parseTranscript('{')).toThrow(InvalidTranscriptError)
    expect(() => parseTranscript({ format: 'securechat-transcript-v1' })).toThrow(/room/)
  })
})
