import { createHash } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { SEARCH_INDEX_SHARDS } from '../constants.ts'
import { MessageStates } from '../message-state.ts'
import type { Address, MessageChange } from '../types.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault, type VaultBackend } from '../vault/vault.ts'
import { SEARCH_META_ENTRY, SEARCH_SHARD_PREFIX, SearchIndexer } from './search-indexer.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address
const ROOM = `room:${'c'.repeat(64)}`
const DM = `dm:${BOB}`
// Message ids are hashes: spread over the index's parts as real ones are.
const id = (n: number): string => createHash('sha256').update(String(n)).digest('hex')
const unlock = { type: 'passphrase', passphrase: 'correct horse battery staple' } as const

const text = (states: MessageStates, n: number, body: string, parentId?: number): void => {
  states.text({
    id: id(n),
    sender: ALICE,
    senderPeerId: 'p',
    sentAtMs: 1_000 + n,
    body,
    parentId: parentId === undefined ? undefined : id(parentId),
  })
}
const change = (n: number, target: number, edit: { kind: 'edit'; body: string } | { kind: 'delete' }): MessageChange =>
  ({ id: id(n), target: id(target), sender: ALICE, senderPeerId: 'p', sentAtMs: 2_000 + n, ...edit }) as MessageChange

async function open(backend: VaultBackend): Promise<Vault> {
  return openVault({ backend, unlock, argon2id: VAULT_ARGON2ID_MIN })
}

const found = async (indexer: SearchIndexer, query: string): Promise<string[]> =>
  (await indexer.search(query)).map((result) => result.text)

describe('SearchIndexer', () => {
  it('behavior: follows arrivals, edits and deletes in rooms and DMs as they happen — no rebuild, no read of the states', async () => {
    const vault = await open(memoryVaultBackend())
    const indexer = await SearchIndexer.open(vault)
    expect(indexer.stats.rebuilds).toBe(1) // a vault without an index: built once, from nothing
    const room = new MessageStates()
    const dm = new MessageStates()
    indexer.follow(ROOM, room)
    indexer.follow(DM, dm)

    text(room, 1, 'the quokka said hello')
    text(room, 2, 'a narwhal was here')
    text(room, 3, 'a reply about the quokka', 1)
    text(dm, 4, 'private pangolin says hello')
    expect(await found(indexer, 'hello')).toEqual(['private pangolin says hello', 'the quokka said hello'])
    expect(await indexer.search('reply')).toMatchObject([{ id: id(3), parentId: id(1) }])
    expect(await indexer.search('pangolin')).toMatchObject([{ conversation: { type: 'dm', address: BOB } }])

    room.change(change(10, 1, { kind: 'edit', body: 'the axolotl said hello' }))
    expect(await found(indexer, 'quokka')).toEqual(['a reply about the quokka'])
    expect(await indexer.search('axolotl')).toMatchObject([{ id: id(1), edited: true }])
    room.change(change(11, 2, { kind: 'delete' }))
    dm.change(change(12, 4, { kind: 'delete' }))
    expect(await found(indexer, 'narwhal')).toEqual([])
    expect(await found(indexer, 'pangolin')).toEqual([])
    expect(indexer.size).toBe(2)
    expect(indexer.stats.rebuilds).toBe(1)

    // What the vault keeps: none of the old or deleted words.
    await indexer.flush()
    const saved = Buffer.concat(
      await Promise.all((await vault.list(SEARCH_SHARD_PREFIX)).map(async (name) => (await vault.get(name))!)),
    ).toString('utf8')
    expect(saved).toContain('axolotl')
    for (const gone of ['narwhal', 'pangolin']) expect(saved).not.toContain(gone)
    await vault.close()
  })

  it('behavior: a message the states drop for their bound leaves the index; a left conversation leaves it all', async () => {
    const vault = await open(memoryVaultBackend())
    const indexer = await SearchIndexer.open(vault)
    const room = new MessageStates({ maxMessages: 2 })
    indexer.follow(ROOM, room)
    text(room, 1, 'oldest word')
    text(room, 2, 'middle word')
    text(room, 3, 'newest word')
    expect(await found(indexer, 'word')).toEqual(['newest word', 'middle word'])
    expect(indexer.size).toBe(2)
    indexer.forget(ROOM)
    expect(indexer.size).toBe(0)
    await vault.close()
  })

  it('behavior: saved in parts — one arrival rewrites one part; opened again it loads them, no rebuild', async () => {
    const backend = memoryVaultBackend()
    const vault = await open(backend)
    const indexer = await SearchIndexer.open(vault)
    const room = new MessageStates()
    indexer.follow(ROOM, room)
    for (let n = 1; n <= 200; n++) text(room, n, `message number ${n} about topic${n % 7}`)
    await indexer.flush()
    const before = indexer.stats
    expect(before.saving).toBe(0)
    const saved = new Promise((resolve) => indexer.addEventListener('index:saved', resolve, { once: true }))
    text(room, 201, 'one more arrival')
    expect(indexer.stats.saving).toBe(1)
    await saved
    const after = indexer.stats
    expect(after.saving).toBe(0)
    expect(after.shardWrites - before.shardWrites).toBe(1)
    expect(after.updates - before.updates).toBe(1)
    // A part holds about 1/SEARCH_INDEX_SHARDS of the index, not all of it.
    expect(after.bytesWritten - before.bytesWritten).toBeLessThan((before.bytesWritten / SEARCH_INDEX_SHARDS) * 4)
    await vault.close()

    const again = await open(backend)
    const reopened = await SearchIndexer.open(again)
    expect(reopened.stats).toMatchObject({ rebuilds: 0, loaded: 201, updates: 0 })
    // Texts come from the vault's states of the results' conversations when no room follows them yet.
    await again.putJson(`room/messages/${'c'.repeat(64)}`, room.serialize())
    expect(await found(reopened, 'arrival')).toEqual(['one more arrival'])
    expect(await reopened.search('topic3')).toHaveLength(29)
    await again.close()
  })

  it('behavior: following a conversation again brings the index in line with what its states say now', async () => {
    const backend = memoryVaultBackend()
    const vault = await open(backend)
    const first = await SearchIndexer.open(vault)
    const room = new MessageStates()
    first.follow(ROOM, room)
    text(room, 1, 'kept as it was')
    text(room, 2, 'edited while not followed')
    text(room, 3, 'deleted while not followed')
    await first.flush()
    // Changes the index did not see (a crash before its save): the next follow catches them.
    const later = new MessageStates({ saved: room.serialize() })
    later.change(change(10, 2, { kind: 'edit', body: 'the new wording' }))
    later.change(change(11, 3, { kind: 'delete' }))
    text(later, 4, 'arrived unseen')
    const second = await SearchIndexer.open(vault)
    expect(second.size).toBe(3)
    second.follow(ROOM, later)
    expect(await found(second, 'followed')).toEqual([])
    expect(second.size).toBe(3)
    expect(await found(second, 'wording')).toEqual(['the new wording'])
    expect(await found(second, 'unseen')).toEqual(['arrived unseen'])
    expect(second.stats.rebuilds).toBe(0)
    expect(await vault.get(SEARCH_META_ENTRY)).toBeDefined()
    await vault.close()
  })

  it('behavior: opened in the background — what the followed states do and the conversations left meanwhile count once it is open', async () => {
    const backend = memoryVaultBackend()
    const vault = await open(backend)
    const first = await SearchIndexer.open(vault)
    const room = new MessageStates()
    const dm = new MessageStates()
    first.follow(ROOM, room)
    first.follow(DM, dm)
    text(room, 1, 'the quokka said hello')
    text(room, 2, 'a narwhal was here')
    text(dm, 3, 'a pangolin in private')
    await first.flush()

    const second = SearchIndexer.start(vault)
    expect(second.opened).toBe(false)
    second.follow(ROOM, room)
    // While it opens: an arrival, an edit, a delete, and the DM left.
    text(room, 4, 'an axolotl arrived meanwhile')
    room.change(change(10, 1, { kind: 'edit', body: 'the ibex said hello' }))
    room.change(change(11, 2, { kind: 'delete' }))
    second.forget(DM)
    const opened = new Promise((resolve) => second.addEventListener('index:opened', resolve, { once: true }))
    expect(await found(second, 'hello')).toEqual(['the ibex said hello'])
    await opened
    expect(second.opened).toBe(true)
    expect(second.stats).toMatchObject({ rebuilds: 0, loaded: 3 })
    expect(await found(second, 'axolotl')).toEqual(['an axolotl arrived meanwhile'])
    for (const gone of ['quokka', 'narwhal', 'pangolin']) expect(await found(second, gone)).toEqual([])
    expect(second.size).toBe(2)
    await second.flush()
    // And so does the vault: opened again, it holds what the states say.
    const third = await SearchIndexer.open(vault)
    expect(third.size).toBe(2)
    expect(await found(third, 'narwhal')).toEqual([])
    await vault.close()
  })

  it('behavior: built in the background from the states not followed; the followed ones come from memory', async () => {
    const vault = await open(memoryVaultBackend())
    const room = new MessageStates()
    text(room, 1, 'saved quokka words')
    await vault.putJson(`room/messages/${'c'.repeat(64)}`, room.serialize())
    const other = new MessageStates()
    text(other, 2, 'saved narwhal words')
    await vault.putJson(`room/messages/${'d'.repeat(64)}`, other.serialize())
    const read = vi.spyOn(vault, 'getJson')
    const indexer = SearchIndexer.start(vault)
    indexer.follow(ROOM, room)
    text(room, 3, 'a newer quokka not saved yet')
    await indexer.ready
    expect(indexer.stats.rebuilds).toBe(1)
    const entries = read.mock.calls.map(([entry]) => entry)
    expect(entries).toContain(`room/messages/${'d'.repeat(64)}`)
    expect(entries).not.toContain(`room/messages/${'c'.repeat(64)}`)
    expect(await found(indexer, 'quokka')).toEqual(['a newer quokka not saved yet', 'saved quokka words'])
    expect(await found(indexer, 'narwhal')).toEqual(['saved narwhal words'])
    await vault.close()
  })
})
