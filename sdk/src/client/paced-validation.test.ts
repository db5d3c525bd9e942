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

/**
 * A pacer's validator that notes the names (topics) of the records it validated, in order, taking `workMs` over each,
 * and `record`, which hands it one of `type`, signed by `from` when given.
 */
function pacedValidator(pacer: EventLoopPacer, workMs = 0) {
  const validated: string[] = []
  const paced = pacer.wrap(((_peer, message) => {
    validated.push(message.topic)
    busy(workMs)
    return TopicValidatorResult.Accept
  }) satisfies TopicValidatorFn)
  const record = (type: string, name: string, from?: string) =>
    paced(
      {} as PeerId,
      {
        ...(from === undefined ? {} : { type: 'signed', from: { toString: () => from } }),
        topic: name,
        data: utf8.encode(`{"v":1,"type":"${type}","n":0}`),
      } as unknown as Message,
    )
  return { validated, record }
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

  it("behavior: a message waiting behind a join's presence goes first; presence still gets one turn in five", async () => {
    const pacer = new EventLoopPacer(1, 4)
    const { validated, record } = pacedValidator(pacer, 0.1)
    /** Forgets what was validated and spends a new slice (the event loop turned): what arrives next waits. */
    const spentSlice = async () => {
      validated.length = 0
      await new Promise((resolve) => setImmediate(resolve))
      expect(pacer.turn()).toBeUndefined()
      busy(2)
    }
    const turnsOf = (kind: string) => validated.flatMap((name, i) => (name.startsWith(kind) ? [i] : []))
    // A slice spent: what arrives now waits. A join's burst first — 100 presence records — then a message.
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    const join = Array.from({ length: 100 }, (_, i) => record('presence', `join ${i}`))
    const message = record('message', 'message')
    expect(pacer.waiting).toBe(101)
    await Promise.all([...join, message])
    // Not behind the burst: the first validated. The burst's records keep their own order.
    expect(validated[0]).toBe('message')
    expect(validated.slice(1)).toEqual(Array.from({ length: 100 }, (_, i) => `join ${i}`))

    // A stream of messages while presence waits: every fifth turn is the presence's.
    await spentSlice()
    const presence = Array.from({ length: 10 }, (_, i) => record('presence', `presence ${i}`))
    const messages = Array.from({ length: 40 }, (_, i) => record('message', `message ${i}`))
    await Promise.all([...presence, ...messages])
    expect(turnsOf('presence')).toEqual([4, 9, 14, 19, 24, 29, 34, 39, 44, 49])

    // Sender keys from many members (a join answered) while presence waits: every fifth turn is the presence's too,
    // and under a stream of messages the keys get every fifth turn.
    await spentSlice()
    const answers = Array.from({ length: 5 }, (_, i) => record('presence', `presence ${i}`))
    const keys = Array.from({ length: 20 }, (_, i) => record('keys', `keys ${i}`))
    await Promise.all([...answers, ...keys])
    expect(turnsOf('presence')).toEqual([4, 9, 14, 19, 24])
    await spentSlice()
    const moreKeys = Array.from({ length: 4 }, (_, i) => record('keys', `keys ${i}`))
    const moreMessages = Array.from({ length: 16 }, (_, i) => record('message', `message ${i}`))
    await Promise.all([...moreKeys, ...moreMessages])
    expect(turnsOf('keys')).toEqual([4, 9, 14, 19])
  })

  it("behavior: a sender key goes ahead of a join's presence, taking its sender's own waiting presence along and nobody else's", async () => {
    const pacer = new EventLoopPacer(1, 4)
    const { validated, record } = pacedValidator(pacer)
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    // A join's presence, alice's own among it, then her sender key sealed to the newcomers.
    const join = Array.from({ length: 50 }, (_, i) =>
      i === 30 ? record('presence', 'alice presence', 'alice') : record('presence', `join ${i}`, `newcomer ${i}`),
    )
    const keys = record('keys', 'alice keys', 'alice')
    await Promise.all([...join, keys])
    // Her two in her order, first; the join's presence after, in its order.
    expect(validated.slice(0, 2)).toEqual(['alice presence', 'alice keys'])
    expect(validated.slice(2)).toEqual(Array.from({ length: 50 }, (_, i) => `join ${i}`).filter((n) => n !== 'join 30'))
  })

  it("behavior: one sender's records keep their order — its message waits behind its own keys — while another sender's message goes first", async () => {
    const pacer = new EventLoopPacer(1, 4)
    const { validated, record } = pacedValidator(pacer)
    expect(pacer.turn()).toBeUndefined()
    busy(2)
    // Carol's message waits, then her presence (it must not pass the message), then others' records: presence, dave's
    // sender key, alice's sender key and the message it opens, bob's message.
    const carolMessage = record('message', 'carol message', 'carol')
    const carolPresence = record('presence', 'carol presence', 'carol')
    const join = Array.from({ length: 10 }, (_, i) => record('presence', `join ${i}`, `newcomer ${i}`))
    const daveKeys = record('keys', 'dave keys', 'dave')
    const aliceKeys = record('keys', 'alice keys', 'alice')
    const aliceMessage = record('message', 'alice message', 'alice')
    const bobMessage = record('message', 'bob message', 'bob')
    await Promise.all([carolMessage, carolPresence, ...join, daveKeys, aliceKeys, aliceMessage, bobMessage])
    // Carol's two in her order (her presence waits in her message's lane); alice's key, lifted with the message it
    // opens; four in a row, so dave's key has its turn; bob's message; then the join.
    expect(validated).toEqual([
      'carol message',
      'carol presence',
      'alice keys',
      'alice message',
      'dave keys',
      'bob message',
      ...Array.from({ length: 10 }, (_, i) => `join ${i}`),
    ])
  })
})
