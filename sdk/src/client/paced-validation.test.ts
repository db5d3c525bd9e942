import { type Message, type TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { EventLoopPacer, type FirstCheckedValidator } from './paced-validation.ts'

/** Work that holds the thread for `ms`, as validating or encrypting a record does. */
function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe('EventLoopPacer', () => {
  it('behavior: a loop that takes its turns lets the event loop run between slices', async () => {
    const pacer = new EventLoopPacer(5)
    let timerRanAt: number | undefined
    setTimeout(() => {
      timerRanAt = done
    }, 0)
    let done = 0
    for (; done < 100; done++) {
      await pacer.turn()
      busy(1)
    }
    // Without turns the timer waits for the whole loop (100 steps); with them it runs within the first slices.
    expect(timerRanAt).toBeDefined()
    expect(timerRanAt).toBeLessThan(50)
  })

  it('behavior: callers past the slice go on in the order they came', async () => {
    const pacer = new EventLoopPacer(1)
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await pacer.turn()
        busy(0.2)
        order.push(i)
      }),
    )
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(pacer.waiting).toBe(0)
  })

  it("behavior: a validator's first check ends a record's validation as it arrives, without waiting for a turn", async () => {
    const pacer = new EventLoopPacer(1)
    const validated: number[] = []
    const validate: FirstCheckedValidator = Object.assign(
      ((_peer, message) => {
        validated.push(Number(message.topic))
        return TopicValidatorResult.Accept
      }) satisfies TopicValidatorFn,
      {
        first: (_peer: PeerId, message: Message) =>
          Number(message.topic) % 2 === 1 ? TopicValidatorResult.Ignore : undefined,
      },
    )
    const paced = pacer.wrap(validate)
    const peer = {} as PeerId
    // A slice spent: every record after this one waits its turn, except those its first check drops.
    pacer.turn()
    busy(2)
    const results = Array.from({ length: 6 }, (_, i) => paced(peer, { topic: String(i) } as unknown as Message))
    expect(pacer.waiting).toBe(3)
    expect(await Promise.all(results)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 1 ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept)),
    )
    expect(validated).toEqual([0, 2, 4])
  })
})
