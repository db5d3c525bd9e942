import { describe, expect, it } from 'vitest'
import { MAX_POSITION_IDS } from '../constants.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault } from '../vault/vault.ts'
import { HistoryPositionKeeper } from './history-position.ts'
import type { HistoryPosition } from './history-sink.ts'
import { loadHistoryPosition, loadMessageStates, ROOM_ENTRY_PREFIXES, saveRoomHistory } from './room-store.ts'

const ROOM = 'cd'.repeat(32)
const id = (n: number): string => n.toString(16).padStart(64, '0')

const NO_STATES = { v: 1 as const, messages: [], pending: [] }

/** A keeper saving as a room does: its position with the room's message states, one entry. */
function savingKeeper(v: Vault, init: { now: () => number; position?: HistoryPosition }): HistoryPositionKeeper {
  const keeper: HistoryPositionKeeper = new HistoryPositionKeeper({
    ...init,
    save: () => void saveRoomHistory(v, ROOM, () => ({ states: NO_STATES, position: keeper.get(), keys: undefined })),
  })
  return keeper
}

async function vault(): Promise<Vault> {
  return await openVault({
    backend: memoryVaultBackend(),
    unlock: { type: 'passphrase', passphrase: 'correct horse battery' },
    argon2id: VAULT_ARGON2ID_MIN,
  })
}

describe('history position', () => {
  it('behavior: a position of an earlier version (its own entry, beside the states alone) loads without loss, and is saved with the states from then on', async () => {
    const v = await vault()
    await v.putJson(`${ROOM_ENTRY_PREFIXES.history}${ROOM}`, { v: 1, lamport: 8, ids: [id(8)] })
    await v.putJson(`${ROOM_ENTRY_PREFIXES.messages}${ROOM}`, NO_STATES)
    const loaded = await loadHistoryPosition(v, ROOM)
    expect(loaded).toEqual({ lamport: 8, ids: [id(8)] })
    expect(await loadMessageStates(v, ROOM)).toEqual(NO_STATES)

    let now = 1_000
    const keeper = savingKeeper(v, { now: () => now, ...(loaded === undefined ? {} : { position: loaded }) })
    keeper.caughtUp(900, true)
    now = 2_000
    keeper.advance(3, id(3))
    await v.flush()
    expect(await loadHistoryPosition(v, ROOM)).toEqual({ lamport: 8, ids: [id(8), id(3)], liveAtMs: 2_000 })
    expect(await loadMessageStates(v, ROOM)).toEqual(NO_STATES)
    await v.close()
  })

  it('behavior: the time moves only while live after a complete catch-up; the ids stay bounded', () => {
    let now = 5_000
    const keeper = new HistoryPositionKeeper({ now: () => now })
    keeper.advance(1, id(1))
    keeper.touch()
    expect(keeper.get()).toEqual({ lamport: 1, ids: [id(1)] })
    keeper.caughtUp(4_000, true)
    now = 6_000
    keeper.advance(2, id(2))
    expect(keeper.get().liveAtMs).toBe(6_000)
    keeper.notLive()
    now = 7_000
    keeper.advance(3, id(3))
    keeper.touch()
    expect(keeper.get().liveAtMs).toBe(6_000)
    // A catch-up cut short: its reach, not live.
    keeper.caughtUp(6_500, false)
    now = 8_000
    keeper.advance(4, id(4))
    expect(keeper.get().liveAtMs).toBe(6_500)
    for (let n = 10; n < 10 + MAX_POSITION_IDS; n++) keeper.advance(n, id(n))
    const { ids, lamport } = keeper.get()
    expect(ids).toHaveLength(MAX_POSITION_IDS)
    expect(ids[0]).toBe(id(10))
    expect(lamport).toBe(9 + MAX_POSITION_IDS)
  })

  it('behavior: a message withdrawn (held for its key) leaves the saved ids, so a restart fetches it again; delivered, it is back', async () => {
    const v = await vault()
    const keeper = savingKeeper(v, { now: () => 1_000 })
    keeper.advance(1, id(1))
    keeper.advance(2, id(2))
    keeper.withdraw(id(1))
    await v.flush()
    expect((await loadHistoryPosition(v, ROOM))?.ids).toEqual([id(2)])
    keeper.advance(1, id(1))
    expect(keeper.get().ids).toEqual([id(2), id(1)])
    keeper.withdraw(id(9))
    expect(keeper.get().ids).toEqual([id(2), id(1)])
    await v.close()
  })
})
