import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RelayLimits } from './limits.ts'
import { FLOODER_PENALTY, type JudgedRecords, RecordRates } from './record-rates.ts'

const TOPIC = 'securechat/room/test'

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A signed gossip message from `from`; the validators here read only its type, sender and topic. */
function record(from: PeerId): Message {
  return { type: 'signed', from, topic: TOPIC } as unknown as Message
}

/** What the stand-in validator "accepted": a chat message, for every record, each device its own wallet's. */
const accepted = (message: Message): { type: 'message'; certificate: { address: string } } => ({
  type: 'message',
  certificate: { address: `wallet of ${message.type === 'signed' ? message.from : '?'}` },
})
const BUDGETS = { message: 'messages' } as const

/** A gatekeeper's judgement from what it accepted: every record it saw was of the type it accepts. */
function judgedAs<T extends string>(
  accepted: (message: Message) => { type: T; certificate: { address: string } },
): JudgedRecords<T> {
  return { accepted, typeOf: (message) => accepted(message).type }
}

function setup(): { rates: RecordRates; limits: RelayLimits } {
  const limits = new RelayLimits({ log: silentLoggerFactory('test') })
  const rates = new RecordRates({
    limits,
    recordsPerSecond: 1,
    recordBurst: 2,
    floodBanAfterMs: 3_000,
    floodBanMs: 60_000,
  })
  return { rates, limits }
}

describe('RecordRates', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a device over its burst is dropped with Ignore and penalised only when it sent its own records', async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const validate = rates.guard(() => TopicValidatorResult.Accept, judgedAs(accepted), BUDGETS)
    const [flooder, relay] = [await peer(), await peer()]
    // Forwarded by a relay: dropped past the burst, and nobody is penalised.
    expect([0, 1, 2].map(() => validate(relay, record(flooder)))).toEqual([
      TopicValidatorResult.Accept,
      TopicValidatorResult.Accept,
      TopicValidatorResult.Ignore,
    ])
    expect(rates.penalty(relay.toString())).toBe(0)
    expect(rates.penalty(flooder.toString())).toBe(0)
    // Sent over its own connection: the flooder carries the penalty while it stays over, not after a pause.
    expect(validate(flooder, record(flooder))).toBe(TopicValidatorResult.Ignore)
    expect(rates.penalty(flooder.toString())).toBe(FLOODER_PENALTY)
    expect(rates.penalty(relay.toString())).toBe(0)
    vi.advanceTimersByTime(1_500)
    expect(rates.penalty(flooder.toString())).toBe(0)
    expect(limits.stats().refused['records-per-second']).toBe(2)
  })

  it('behavior: a device over its rate without a pause for the ban delay is banned; a paced one never is', async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const validate = rates.guard(() => TopicValidatorResult.Accept, judgedAs(accepted), BUDGETS)
    const [flooder, person] = [await peer(), await peer()]
    for (let ms = 0; ms <= 3_500; ms += 100) {
      validate(flooder, record(flooder))
      validate(flooder, record(flooder))
      if (ms % 1_000 === 0) expect(validate(person, record(person))).toBe(TopicValidatorResult.Accept)
      vi.advanceTimersByTime(100)
    }
    expect(limits.isBanned(flooder.toString())).toBe(true)
    expect(limits.isBanned(person.toString())).toBe(false)
    expect(limits.stats().refused['record-flood']).toBe(1)
    // Banned: its records are dropped whoever forwards them, without a token.
    expect(validate(person, record(flooder))).toBe(TopicValidatorResult.Ignore)
    vi.advanceTimersByTime(60_000)
    expect(limits.isBanned(flooder.toString())).toBe(false)
  })

  it("behavior: the devices of one wallet share a budget of twice a device's, and each is charged for its own drops", async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const sameWallet = (): { type: 'message'; certificate: { address: string } } => ({
      type: 'message',
      certificate: { address: 'one wallet' },
    })
    const validate = rates.guard(() => TopicValidatorResult.Accept, judgedAs(sameWallet), BUDGETS)
    const devices = [await peer(), await peer(), await peer()]
    // Each device within its own burst of 2; together past the wallet's 4.
    const results = devices.flatMap((device) => [0, 1].map(() => validate(device, record(device))))
    expect(results.filter((r) => r === TopicValidatorResult.Accept)).toHaveLength(4)
    expect(results.slice(4)).toEqual([TopicValidatorResult.Ignore, TopicValidatorResult.Ignore])
    expect(limits.stats().refused['records-per-second']).toBe(2)
    expect(rates.penalty(devices[2]!.toString())).toBe(FLOODER_PENALTY)
    expect(rates.penalty(devices[0]!.toString())).toBe(0)
  })

  it('behavior: records the validator does not accept cost no token', async () => {
    const { rates } = setup()
    const device = await peer()
    const rejecting = rates.guard(() => TopicValidatorResult.Reject, judgedAs(accepted), BUDGETS)
    for (let i = 0; i < 5; i++) expect(rejecting(device, record(device))).toBe(TopicValidatorResult.Reject)
    const accepting = rates.guard(async () => TopicValidatorResult.Accept, judgedAs(accepted), BUDGETS)
    expect(await accepting(device, record(device))).toBe(TopicValidatorResult.Accept)
  })

  it('behavior: records the validator ignores cost their device a token: past its rate they are counted, and kept up, banned', async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    // What a relay with no chain does with a certificate signed by another wallet: it cannot tell, so it ignores.
    const ignoring = rates.guard(() => TopicValidatorResult.Ignore, judgedAs(accepted), BUDGETS)
    const [flooder, person] = [await peer(), await peer()]
    expect([0, 1, 2].map(() => ignoring(flooder, record(flooder)))).toEqual([
      TopicValidatorResult.Ignore,
      TopicValidatorResult.Ignore,
      TopicValidatorResult.Ignore,
    ])
    expect(limits.stats().refused['records-per-second']).toBe(1)
    expect(rates.penalty(flooder.toString())).toBe(FLOODER_PENALTY)
    for (let ms = 0; ms <= 3_500; ms += 100) {
      ignoring(flooder, record(flooder))
      if (ms % 1_000 === 0) ignoring(person, record(person))
      vi.advanceTimersByTime(100)
    }
    expect(limits.isBanned(flooder.toString())).toBe(true)
    expect(limits.isBanned(person.toString())).toBe(false)
    expect(rates.penalty(person.toString())).toBe(0)
  })

  it('behavior: a record the validator ignores is charged to the budget of the type it decoded, presence when none', async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const budgets = { message: 'messages', presence: 'control' } as const
    let type: string | undefined
    const ignoring = rates.guard(
      () => TopicValidatorResult.Ignore,
      { accepted: () => undefined, typeOf: () => type },
      budgets,
    )
    const refusedAfter = (device: PeerId, count: number): number => {
      for (let i = 0; i < count; i++) ignoring(device, record(device))
      return limits.stats().refused['records-per-second'] ?? 0
    }
    const [chatty, quiet, unknown] = [await peer(), await peer(), await peer()]
    // Chat messages burst 2, control records 100: each device is judged by the type of what it sent.
    type = 'presence'
    expect(refusedAfter(quiet, 10)).toBe(0)
    type = undefined
    expect(refusedAfter(unknown, 10)).toBe(0)
    type = 'message'
    expect(refusedAfter(chatty, 10)).toBe(8)
    expect(rates.penalty(chatty.toString())).toBe(FLOODER_PENALTY)
    expect(rates.penalty(quiet.toString())).toBe(0)
  })

  it("behavior: a sender's rate tier replaces the relay's rate for chat messages, with a burst in proportion, never above the ceiling", async () => {
    vi.useFakeTimers()
    const limits = new RelayLimits({ log: silentLoggerFactory('test') })
    // The relay's own: 1 a second, 2 at once (two seconds' worth); tiers are capped at 3 a second.
    const rates = new RecordRates({ limits, recordsPerSecond: 1, recordBurst: 2, maxTierRecordsPerSecond: 3 })
    const [base, holder, whale] = [await peer(), await peer(), await peer()]
    const tiers = new Map([
      [holder.toString(), 2],
      [whale.toString(), 50],
    ])
    const validate = rates.guard(() => TopicValidatorResult.Accept, judgedAs(accepted), BUDGETS, {
      rate: async (message) => (message.type === 'signed' ? tiers.get(message.from.toString()) : undefined),
      tiered: () => true,
    })
    const burst = async (device: PeerId, count: number): Promise<number> => {
      let passed = 0
      for (let i = 0; i < count; i++)
        if ((await validate(device, record(device))) === TopicValidatorResult.Accept) passed++
      return passed
    }
    expect(await burst(base, 10)).toBe(2)
    expect(await burst(holder, 10)).toBe(4)
    expect(await burst(whale, 10)).toBe(6)
    vi.advanceTimersByTime(1_000)
    expect([await burst(base, 10), await burst(holder, 10), await burst(whale, 10)]).toEqual([1, 2, 3])
  })

  it('behavior: a device with no token left is dropped before its record is validated, whatever its type', async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const validator = vi.fn(() => TopicValidatorResult.Accept)
    // Chat messages burst 2; control records (the default budget) 100 at once.
    const budgets = { message: 'messages', presence: 'control' } as const
    let type: keyof typeof budgets = 'message'
    const typed = (message: Message) => ({ ...accepted(message), type })
    const validate = rates.guard(validator, judgedAs(typed), budgets)
    const device = await peer()
    expect([0, 1, 2].map(() => validate(device, record(device)))).toEqual([
      TopicValidatorResult.Accept,
      TopicValidatorResult.Accept,
      TopicValidatorResult.Ignore,
    ])
    // Out of chat messages but not of control records: its next record may be one, so it is validated.
    expect(validator).toHaveBeenCalledTimes(3)
    type = 'presence'
    for (let i = 0; i < 100; i++) validate(device, record(device))
    expect(validator).toHaveBeenCalledTimes(103)
    // Now out of both: dropped, counted and penalised like any drop, without the validator.
    for (let i = 0; i < 50; i++) expect(validate(device, record(device))).toBe(TopicValidatorResult.Ignore)
    expect(validator).toHaveBeenCalledTimes(103)
    // The same look on its own, for a node that runs it as a record arrives, before the record waits its turn.
    expect(validate.first(device, record(device))).toBe(TopicValidatorResult.Ignore)
    expect(validator).toHaveBeenCalledTimes(103)
    expect(limits.stats().refused['records-per-second']).toBe(52)
    expect(rates.penalty(device.toString())).toBe(FLOODER_PENALTY)
    // Looking took no token: once one is back, the next record is validated and accepted.
    vi.advanceTimersByTime(1_000)
    expect(validate.first(device, record(device))).toBeUndefined()
    type = 'message'
    expect(validate(device, record(device))).toBe(TopicValidatorResult.Accept)
    expect(validator).toHaveBeenCalledTimes(104)
  })

  it("behavior: a device whose wallet's budget is spent is dropped before validation once the relay knows its wallet", async () => {
    vi.useFakeTimers()
    const { rates, limits } = setup()
    const validator = vi.fn(() => TopicValidatorResult.Accept)
    const sameWallet = (): { type: 'message'; certificate: { address: string } } => ({
      type: 'message',
      certificate: { address: 'one wallet' },
    })
    const validate = rates.guard(validator, judgedAs(sameWallet), BUDGETS)
    const [first, second, third] = [await peer(), await peer(), await peer()]
    // The wallet's burst is 4: two devices spend it, each learnt as the wallet's.
    for (const device of [first, second]) for (let i = 0; i < 2; i++) validate(device, record(device))
    // A device never seen: validated (its wallet is unknown), then dropped on the wallet's budget.
    expect(validate(third, record(third))).toBe(TopicValidatorResult.Ignore)
    expect(validator).toHaveBeenCalledTimes(5)
    // Now known: dropped unvalidated, though its own budget has a token.
    expect(validate(third, record(third))).toBe(TopicValidatorResult.Ignore)
    expect(validator).toHaveBeenCalledTimes(5)
    expect(limits.stats().refused['records-per-second']).toBe(2)
  })

  it("behavior: in a room with tiers, a device is looked at with the operator's ceiling, so a tier's rate is never dropped unvalidated", async () => {
    vi.useFakeTimers()
    const limits = new RelayLimits({ log: silentLoggerFactory('test') })
    const rates = new RecordRates({ limits, recordsPerSecond: 1, recordBurst: 2, maxTierRecordsPerSecond: 3 })
    const validator = vi.fn(() => TopicValidatorResult.Accept)
    const validate = rates.guard(validator, judgedAs(accepted), BUDGETS, { rate: () => 3, tiered: () => true })
    const holder = await peer()
    // The tier's burst of 6 spent; the 7th record is dropped before validation.
    for (let i = 0; i < 7; i++) validate(holder, record(holder))
    expect(validator).toHaveBeenCalledTimes(6)
    // 400 ms later the relay's own rate would have no token back, the tier's has one: validated and accepted.
    vi.advanceTimersByTime(400)
    expect(validate(holder, record(holder))).toBe(TopicValidatorResult.Accept)
    expect(validator).toHaveBeenCalledTimes(7)
  })

  it('error: a ban delay that is not a positive number', () => {
    const limits = new RelayLimits({ log: silentLoggerFactory('test') })
    expect(() => new RecordRates({ limits, floodBanAfterMs: 0 })).toThrow(RangeError)
  })
})
