import { describe, expect, it } from 'vitest'
import type { Address } from '../types.ts'
import { OwnDeliveries } from './own-deliveries.ts'

const SELF: Address = '0x00000000000000000000000000000000000000aA'
const A: Address = '0x000000000000000000000000000000000000000a'
const B: Address = '0x000000000000000000000000000000000000000b'
const C: Address = '0x000000000000000000000000000000000000000c'

describe('own deliveries', () => {
  it('behavior: counts member wallets present and those that acknowledged, this wallet left out, each once', () => {
    const deliveries = new OwnDeliveries({ roomId: 'r', self: SELF })
    deliveries.sent('m1', [A, B, SELF.toLowerCase() as Address])
    expect(deliveries.get('m1')).toEqual({ roomId: 'r', id: 'm1', present: [A, B], delivered: [] })
    expect(deliveries.acknowledged('m1', A)).toEqual({ roomId: 'r', id: 'm1', present: [A, B], delivered: [A] })
    // A second device of the same wallet, or this wallet's own: not news.
    expect(deliveries.acknowledged('m1', A)).toBeUndefined()
    expect(deliveries.acknowledged('m1', SELF)).toBeUndefined()
    // One that came back after the message was sent counts once it holds it.
    expect(deliveries.acknowledged('m1', C)?.present).toEqual([A, B, C])
    expect(deliveries.acknowledged('unknown', A)).toBeUndefined()
  })

  it('behavior: keeps the newest messages only', () => {
    const deliveries = new OwnDeliveries({ roomId: 'r', self: SELF, max: 2 })
    for (const id of ['m1', 'm2', 'm3']) deliveries.sent(id, [A])
    expect(deliveries.get('m1')).toBeUndefined()
    expect(deliveries.get('m3')?.present).toEqual([A])
  })
})
