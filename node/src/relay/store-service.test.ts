import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteStore } from '../store/sqlite.ts'
import type { MessageStore, StoreInput } from '../store/types.ts'
import { storedRoomLog } from './store-service.ts'

const TOPIC = `/securechat/room/${'a'.repeat(64)}`
let store: MessageStore | undefined
let dir: string | undefined

afterEach(async () => {
  await store?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('storedRoomLog', () => {
  it("behavior: gives a restarted relay a room's moderation records in pages, every one once, and a presence; nothing of another topic", async () => {
    dir = await mkdtemp(join(tmpdir(), 'stored-room-log-'))
    store = await createSqliteStore({ path: join(dir, 'store.sqlite') })
    const from = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let n = 0
    const record = (type: string, topic = TOPIC): StoreInput => {
      n += 1
      const seqno = new Uint8Array(8)
      new DataView(seqno.buffer).setBigUint64(0, BigInt(n))
      return {
        topic,
        from,
        seqno,
        signature: new Uint8Array(64).fill(n % 256),
        data: new TextEncoder().encode(JSON.stringify({ v: 1, type, n })),
        type,
        ...(type === 'presence' ? { supersedes: true } : {}),
      }
    }
    const stored = storedRoomLog(store)
    expect(await stored.presence(TOPIC)).toBeUndefined()
    const events = Array.from({ length: 150 }, () => record('moderation'))
    await store.put([...events, record('message'), record('presence'), record('moderation', '/other')])

    const pages: Uint8Array[][] = []
    for await (const page of stored.moderation(TOPIC)) pages.push(page)
    expect(pages.map((page) => page.length)).toEqual([64, 64, 22])
    // In the store's order (time, then id): the log takes its events in any order.
    const text = (data: Uint8Array): string => new TextDecoder().decode(data)
    expect(pages.flat().map(text).sort()).toEqual(events.map((event) => text(event.data)).sort())
    expect(JSON.parse(new TextDecoder().decode(await stored.presence(TOPIC)))).toMatchObject({ type: 'presence' })
  })

  it("security: the store's files are its owner's alone (who is in which room and when they wrote)", async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-mode-'))
    store = await createSqliteStore({ path: join(dir, 'store.sqlite') })
    for (const name of (await readdir(dir)).filter((file) => file.startsWith('store.sqlite'))) {
      expect(((await stat(join(dir, name))).mode & 0o777).toString(8), name).toBe('600')
    }
    expect(await readdir(dir)).toContain('store.sqlite')
  })
})
