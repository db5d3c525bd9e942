import { afterEach, describe, expect, it, vi } from 'vitest'
import { CAUSAL_HISTORY_LENGTH } from '../constants.ts'
import { silentLoggerFactory } from '../logger.ts'
import type { Address, DmDeviceStatus } from '../types.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault } from '../vault/vault.ts'
import { DM_MAX_RESENDS, DM_RESEND_AFTER_MS, DM_RESEND_MAX_DELAY_MS } from './constants.ts'
import { DmOutgoing, type SentText } from './outgoing.ts'
import { dmRecordId } from './wire.ts'

const BOB = '0x00000000000000000000000000000000000000b0' as Address
const TOPIC = '/securechat/1/dm/pair'

afterEach(() => {
  vi.useRealTimers()
})

function text(n: number, recipients = 1): SentText {
  return {
    id: n.toString(16).padStart(32, '0'),
    conversation: BOB,
    address: BOB,
    peerId: 'bob-device',
    topic: TOPIC,
    record: new Uint8Array([n, 1, 2, 3]),
    recipients,
  }
}

/** An outgoing buffer whose stores hold `held` and whose neighbours number `neighbours` (both changeable). */
function setup(init: { vault?: Vault } = {}) {
  const state = { held: new Set<string>(), neighbours: 1 }
  const republished: Uint8Array[] = []
  const restored: Array<{ id: string; devices: DmDeviceStatus[] }> = []
  const outgoing = new DmOutgoing({
    vault: init.vault,
    log: silentLoggerFactory('test'),
    held: async (_topic, ids) => new Set(ids.filter((id) => state.held.has(id))),
    republish: async (_topic, record) => {
      republished.push(record)
      return state.neighbours
    },
    onRestored: (_conversation, id, devices) => restored.push({ id, devices }),
  })
  return { outgoing, state, republished, restored }
}

describe('DM outgoing texts', () => {
  it('behavior: a text without a receipt that no store holds is re-published byte for byte, backing off, then given up', async () => {
    vi.useFakeTimers()
    const { outgoing, republished } = setup()
    await outgoing.start()
    outgoing.sent(text(1))
    // A relay took it: the stores are asked, and asked again twice as long later, before it is re-published.
    await vi.advanceTimersByTimeAsync(DM_RESEND_AFTER_MS + 2 * DM_RESEND_AFTER_MS - 1)
    expect(republished).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toEqual([text(1).record])
    // Twice as long each time.
    await vi.advanceTimersByTimeAsync(4 * DM_RESEND_AFTER_MS - 1)
    expect(republished).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(DM_MAX_RESENDS * DM_RESEND_MAX_DELAY_MS)
    expect(republished).toHaveLength(DM_MAX_RESENDS)
    expect(outgoing.stats).toEqual({ sent: 1, pending: 0, republished: DM_MAX_RESENDS, unacknowledged: 1 })
    await outgoing.stop()
  })

  it('behavior: a text answered by a receipt, or held by a store, is not published again', async () => {
    vi.useFakeTimers()
    const { outgoing, state, republished } = setup()
    await outgoing.start()
    outgoing.sent(text(1))
    outgoing.sent(text(2))
    outgoing.delivered(text(1).id, 'bob-device')
    state.held.add(dmRecordId(text(2).record))
    await vi.advanceTimersByTimeAsync(DM_RESEND_AFTER_MS)
    expect(republished).toEqual([])
    expect(outgoing.stats.pending).toBe(0)
    await outgoing.stop()
  })

  it('behavior: a publish that reached nobody does not count, and is tried again when a neighbour subscribes', async () => {
    vi.useFakeTimers()
    const { outgoing, state, republished } = setup()
    await outgoing.start()
    state.neighbours = 0
    outgoing.sent(text(1, 0))
    await vi.advanceTimersByTimeAsync(DM_MAX_RESENDS * DM_RESEND_MAX_DELAY_MS)
    const toNobody = republished.length
    expect(toNobody).toBeGreaterThan(DM_MAX_RESENDS)
    expect(outgoing.stats.pending).toBe(1)
    state.neighbours = 1
    outgoing.reachable(TOPIC)
    await vi.advanceTimersByTimeAsync(0)
    expect(republished).toHaveLength(toNobody + 1)
    await outgoing.stop()
  })

  it('behavior: each text names the record ids of the last ones sent to that device', async () => {
    const { outgoing } = setup()
    await outgoing.start()
    expect(outgoing.deps('bob-device')).toBeUndefined()
    for (let n = 1; n <= CAUSAL_HISTORY_LENGTH + 1; n++) outgoing.sent(text(n))
    expect(outgoing.deps('bob-device')).toEqual(
      Array.from({ length: CAUSAL_HISTORY_LENGTH }, (_, i) => dmRecordId(text(i + 2).record)),
    )
    expect(outgoing.deps('another-device')).toBeUndefined()
    await outgoing.stop()
  })

  it('behavior: what still waits is kept in the vault and re-sent after a restart, its status `sent` again', async () => {
    const backend = memoryVaultBackend()
    const open = () =>
      openVault({
        backend,
        unlock: { type: 'passphrase', passphrase: 'only for this test' },
        argon2id: VAULT_ARGON2ID_MIN,
      })
    const vault = await open()
    const first = setup({ vault })
    await first.outgoing.start()
    first.outgoing.sent(text(1, 0))
    first.outgoing.sent(text(2))
    first.outgoing.delivered(text(2).id, 'bob-device')
    await first.outgoing.stop()
    await vault.close()

    vi.useFakeTimers()
    const again = setup({ vault: await open() })
    await again.outgoing.start()
    expect(again.restored).toEqual([
      { id: text(1).id, devices: [{ address: BOB, peerId: 'bob-device', status: 'sent' }] },
    ])
    again.outgoing.reachable()
    await vi.advanceTimersByTimeAsync(0)
    expect(again.republished).toEqual([text(1).record])
    await again.outgoing.stop()
  })
})
