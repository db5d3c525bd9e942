import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MessageStates } from '../message-state.ts'
import type { Address, MessageChange } from '../types.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { platformVaultBackend } from '../vault/vault.node.ts'
import { memoryVaultBackend, openVault, type Vault } from '../vault/vault.ts'
import { SEARCH_META_ENTRY, SEARCH_SHARD_PREFIX, SearchIndexer } from './search-indexer.ts'
import { searchHistory } from './vault-search.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address
const ROOM_ID = 'b'.repeat(64)
const id = (n: number): string => n.toString(16).padStart(64, '0')
const unlock = { type: 'passphrase', passphrase: 'correct horse battery staple' } as const

const text = (states: MessageStates, n: number, body: string, sender = ALICE): void => {
  states.text({ id: id(n), sender, senderPeerId: 'p', sentAtMs: 1_000 + n, body, parentId: undefined })
}
const change = (n: number, target: number, edit: { kind: 'edit'; body: string } | { kind: 'delete' }): MessageChange =>
  ({ id: id(n), target: id(target), sender: ALICE, senderPeerId: 'p', sentAtMs: 2_000 + n, ...edit }) as MessageChange

/** Every byte in the data dir. */
async function dirBytes(dir: string): Promise<Buffer> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true })
  const files = names.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
  return Buffer.concat(await Promise.all(files.map((f) => readFile(f))))
}

async function withVault<T>(dir: string, use: (vault: Vault) => Promise<T>): Promise<T> {
  const vault = await openVault({ backend: platformVaultBackend(dir), unlock, argon2id: VAULT_ARGON2ID_MIN })
  try {
    return await use(vault)
  } finally {
    await vault.close()
  }
}

describe('searchHistory', () => {
  it('behavior: finds the latest text across rooms and DMs, never an old version or a deleted message; the index is only in the vault, encrypted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-search-'))
    const room = new MessageStates()
    text(room, 1, 'the quokka said hello')
    text(room, 2, 'a narwhal was here')
    text(room, 3, 'Ünïcode Wombat', BOB)
    room.change(change(10, 1, { kind: 'edit', body: 'the axolotl said hello' }))
    const dm = new MessageStates()
    text(dm, 4, 'private pangolin')
    await withVault(dir, async (vault) => {
      await vault.putJson(`room/messages/${ROOM_ID}`, room.serialize())
      await vault.putJson(`dm/messages/${BOB}`, dm.serialize())

      const hello = await searchHistory(vault, 'hello')
      expect(hello).toEqual([
        {
          conversation: { type: 'room', roomId: ROOM_ID, name: undefined },
          id: id(1),
          sender: ALICE,
          sentAtMs: 1_001,
          text: 'the axolotl said hello',
          snippet: 'the axolotl said hello',
          edited: true,
        },
      ])
      expect(await searchHistory(vault, 'quokka')).toEqual([])
      expect((await searchHistory(vault, 'unicode wom')).map((r) => r.sender)).toEqual([BOB])
      expect(await searchHistory(vault, 'pangolin')).toMatchObject([{ conversation: { type: 'dm', address: BOB } }])
      expect(await searchHistory(vault, 'pangolin', { roomId: ROOM_ID })).toEqual([])
      expect(await searchHistory(vault, 'pangolin', { dm: BOB.toLowerCase() })).toHaveLength(1)

      // A delete as a client's room folds it, the index following the room: its words leave the saved index.
      const indexer = await SearchIndexer.open(vault)
      expect(indexer.stats.rebuilds).toBe(0)
      indexer.follow(`room:${ROOM_ID}`, room)
      room.change(change(11, 2, { kind: 'delete' }))
      await vault.putJson(`room/messages/${ROOM_ID}`, room.serialize())
      await indexer.flush()
      expect(await searchHistory(vault, 'narwhal')).toEqual([])
      const parts = await Promise.all((await vault.list(SEARCH_SHARD_PREFIX)).map((name) => vault.get(name)))
      const index = Buffer.concat(parts.map((part) => part!)).toString('utf8')
      expect(index).not.toContain('narwhal')
      expect(index).toContain('axolotl')
      expect(index).not.toContain('quokka')
    })
    // Closed and opened again: the index was saved (not built again), and no word of it is on disk in the clear.
    await withVault(dir, async (vault) => {
      const indexer = await SearchIndexer.open(vault)
      expect(indexer.stats).toMatchObject({ rebuilds: 0, loaded: 3 })
      expect(await indexer.search('axolotl')).toHaveLength(1)
    })
    const bytes = await dirBytes(dir)
    for (const word of ['axolotl', 'pangolin', 'wombat', 'hello'])
      expect(bytes.includes(Buffer.from(word)), word).toBe(false)
  })

  it('bound: the index holds the newest maxMessages messages of all conversations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-search-'))
    const room = new MessageStates()
    for (let n = 1; n <= 6; n++) text(room, n, `shared word${n}`)
    await withVault(dir, async (vault) => {
      await vault.putJson(`room/messages/${ROOM_ID}`, room.serialize())
      const found = await searchHistory(vault, 'shared', { maxMessages: 4 })
      expect(found.map((r) => r.id)).toEqual([id(6), id(5), id(4), id(3)])
      expect(await searchHistory(vault, 'word1', { maxMessages: 4 })).toEqual([])
    })
  })

  it('behavior: a message past its disappearing time is not found, though no client has run to drop it from the vault yet', async () => {
    const room = new MessageStates()
    text(room, 1, 'a lasting quokka')
    room.setTimer({ id: id(5), sender: ALICE, senderPeerId: 'p', sentAtMs: 1_005, seconds: 60 })
    text(room, 10, 'an ephemeral quokka')
    expect(room.expiresAtMs(id(10))).toBe(61_010)
    const vault = await openVault({ backend: memoryVaultBackend(), unlock, argon2id: VAULT_ARGON2ID_MIN })
    await vault.putJson(`room/messages/${ROOM_ID}`, room.serialize())
    // An index saved while it was there (a client that followed the room before its time)...
    const indexer = await SearchIndexer.open(vault)
    indexer.follow(`room:${ROOM_ID}`, new MessageStates({ saved: room.serialize() }))
    expect(indexer.size).toBe(2)
    await indexer.flush()
    // ...finds it, but its result is left out: the texts are read from the vault's states, past its time.
    expect((await searchHistory(vault, 'quokka')).map((r) => r.text)).toEqual(['a lasting quokka'])
    // A vault without an index builds it without the message.
    await vault.delete(SEARCH_META_ENTRY)
    const built = await SearchIndexer.open(vault)
    expect(built.stats.rebuilds).toBe(1)
    expect(built.size).toBe(1)
    await vault.close()
  })
})
