import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { MAX_RECENT_BYTES, MAX_RECENT_RECORDS, ROOM_TOPIC_PREFIX } from '../constants.ts'
import { messageIdOf } from '../rooms/wire.ts'
import { RecentRecords } from './recent-records.ts'

const TOPIC = `${ROOM_TOPIC_PREFIX}${'ab'.repeat(32)}`

describe('recent records', async () => {
  const key = await generateKeyPair('Ed25519')
  const from = peerIdFromPrivateKey(key)
  const message = (n: number, type = 'message', pad = 0, topic = TOPIC): Message => ({
    type: 'signed',
    from,
    key: key.publicKey,
    topic,
    sequenceNumber: BigInt(n),
    signature: new Uint8Array(64),
    data: new TextEncoder().encode(JSON.stringify({ type, lamport: n, n, pad: 'x'.repeat(pad) })),
  })

  it('behavior: keeps room message records by id, as received, and only those', () => {
    const recent = new RecentRecords()
    const kept = message(1)
    recent.add(kept)
    recent.add(message(2, 'presence'))
    recent.add(message(3, 'message', 0, '/securechat/1/dm/xyz'))
    const id = messageIdOf(kept.data)
    const [record] = recent.get(TOPIC, [id, messageIdOf(message(2, 'presence').data)])
    expect(recent.get(TOPIC, [id, messageIdOf(message(2, 'presence').data)])).toHaveLength(1)
    expect(record).toMatchObject({ id, from: from.toString(), type: 'message', lamport: 1, data: kept.data })
    expect([...record!.seqno]).toEqual([0, 0, 0, 0, 0, 0, 0, 1])
    recent.forget(TOPIC)
    expect(recent.get(TOPIC, [id])).toEqual([])
  })

  it('behavior: bounded by count and by bytes, the oldest going first', () => {
    const recent = new RecentRecords()
    const ids = Array.from({ length: MAX_RECENT_RECORDS + 5 }, (_, n) => {
      const m = message(n)
      recent.add(m)
      return messageIdOf(m.data)
    })
    expect(recent.get(TOPIC, ids)).toHaveLength(MAX_RECENT_RECORDS)
    expect(recent.get(TOPIC, ids.slice(0, 5))).toEqual([])
    const big = 60 * 1024
    const bigIds = Array.from({ length: Math.ceil(MAX_RECENT_BYTES / big) + 3 }, (_, n) => {
      const m = message(10_000 + n, 'message', big)
      recent.add(m)
      return messageIdOf(m.data)
    })
    const held = recent.get(TOPIC, bigIds)
    expect(held.reduce((sum, r) => sum + r.data.byteLength, 0)).toBeLessThanOrEqual(MAX_RECENT_BYTES)
    expect(held.at(-1)?.id).toBe(bigIds.at(-1))
  })
})
