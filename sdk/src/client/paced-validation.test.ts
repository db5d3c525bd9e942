import { type Message, type TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { utf8 } from '../encoding.ts'
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
    const results = Array.from({ length: 6 }, (_, i) =>
      paced(peer, { topic: String(i), data: new Uint8Array() } as unknown as Message),
    )
    expect(pacer.waiting).toBe(3)
    expect(await Promise.all(results)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 1 ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept)),
    )
    expect(validated).toEqual([0, 2, 4])
  })

  it("behavior: a message waiting behind a join's records goes first; presence and keys still get one turn in five", async () => {
    const pacer = new EventLoopPacer(1, 4)
    const validated: string[] = []
    const paced = pacer.wrap(((_peer, message) => {
      validated.push(message.topic)
      busy(0.1)
      return TopicValidatorResult.Accept
    }) satisfies TopicValidatorFn)
    const peer = {} as PeerId
    const record = (type: string, name: string) =>
      paced(peer, { topic: name, data: utf8.encode(`{"v":1,"type":"${type}","n":0}`) } as unknown as Message)
    // A slice spent: what arrives now waits. A join's burst first — presence and keys, 100 records — then a message.
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    const join = Array.from({ length: 100 }, (_, i) => record(i % 2 === 0 ? 'presence' : 'keys', `join ${i}`))
    const message = record('message', 'message')
    expect(pacer.waiting).toBe(101)
    await Promise.all([...join, message])
    // Not behind the burst: the first validated. The burst's records keep their own order.
    expect(validated[0]).toBe('message')
    expect(validated.slice(1)).toEqual(Array.from({ length: 100 }, (_, i) => `join ${i}`))

    // A stream of messages while a newcomer's keys wait: every fifth turn is the keys'.
    validated.length = 0
    // A new slice (the event loop turned), spent.
    await new Promise((resolve) => setImmediate(resolve))
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    const keys = Array.from({ length: 10 }, (_, i) => record('keys', `keys ${i}`))
    const messages = Array.from({ length: 40 }, (_, i) => record('message', `message ${i}`))
    await Promise.all([...keys, ...messages])
    const turnsOfKeys = validated.flatMap((name, i) => (name.startsWith('keys') ? [i] : []))
    expect(turnsOfKeys).toEqual([4, 9, 14, 19, 24, 29, 34, 39, 44, 49])
  })

  it("behavior: one sender's records keep their order — its message waits behind its own keys — while another sender's message goes first", async () => {
    const pacer = new EventLoopPacer(1, 4)
    const validated: string[] = []
    const paced = pacer.wrap(((_peer, message) => {
      validated.push(message.topic)
      return TopicValidatorResult.Accept
    }) satisfies TopicValidatorFn)
    const peer = {} as PeerId
    const record = (from: string, type: string, name: string) =>
      paced(peer, {
        type: 'signed',
        from: { toString: () => from },
        topic: name,
        data: utf8.encode(`{"v":1,"type":"${type}","n":0}`),
      } as unknown as Message)
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    // A join's records, the sender's key sealed to the newcomers, then the sender's message and another member's.
    const join = Array.from({ length: 10 }, (_, i) => record(`newcomer ${i}`, 'presence', `join ${i}`))
    const keys = record('alice', 'keys', 'alice keys')
    const aliceMessage = record('alice', 'message', 'alice message')
    const bobMessage = record('bob', 'message', 'bob message')
    await Promise.all([...join, keys, aliceMessage, bobMessage])
    expect(validated[0]).toBe('bob message')
    expect(validated.indexOf('alice message')).toBe(validated.indexOf('alice keys') + 1)
    expect(validated).toHaveLength(13)
  })
})
