import type { Libp2p } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { HISTORY_REQUESTS_AT_ONCE_PER_PEER } from './constants.ts'
import { requestSlot } from './request-slots.ts'

/** The slots key on the libp2p node only. */
const node = (): Libp2p => ({}) as Libp2p

describe('requestSlot', () => {
  it('behavior: at most HISTORY_REQUESTS_AT_ONCE_PER_PEER requests to one peer at once; the rest wait in order', async () => {
    const libp2p = node()
    const held = await Promise.all(
      Array.from({ length: HISTORY_REQUESTS_AT_ONCE_PER_PEER }, () => requestSlot(libp2p, 'relay')),
    )
    // Another peer, or the same peer from another node, is not held up.
    const other = await requestSlot(libp2p, 'other relay')
    const elsewhere = await requestSlot(node(), 'relay')
    other()
    elsewhere()
    const order: number[] = []
    const waiting = [1, 2].map((i) =>
      requestSlot(libp2p, 'relay').then((release) => {
        order.push(i)
        return release
      }),
    )
    await Promise.resolve()
    expect(order).toEqual([])
    held[0]!()
    held[1]!()
    const [first, second] = await Promise.all(waiting)
    expect(order).toEqual([1, 2])
    for (const release of [first!, second!, ...held.slice(2)]) release()
    // All places free again.
    const again = await Promise.all(
      Array.from({ length: HISTORY_REQUESTS_AT_ONCE_PER_PEER }, () => requestSlot(libp2p, 'relay')),
    )
    for (const release of again) release()
  })

  it('behavior: a request aborted while it waits leaves the line and takes no place', async () => {
    const libp2p = node()
    const held = await Promise.all(
      Array.from({ length: HISTORY_REQUESTS_AT_ONCE_PER_PEER }, () => requestSlot(libp2p, 'relay')),
    )
    const abort = new AbortController()
    const aborted = requestSlot(libp2p, 'relay', abort.signal)
    const next = requestSlot(libp2p, 'relay')
    abort.abort(new Error('stopped'))
    await expect(aborted).rejects.toThrow('stopped')
    held[0]!()
    const release = await next
    release()
    for (const release of held.slice(1)) release()
  })
})
