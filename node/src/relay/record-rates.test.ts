import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RelayLimits } from './limits.ts'
import { FLOODER_PENALTY, RecordRates } from './record-rates.ts'

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
    const validate = rates.guard(() => TopicValidatorResult.Accept, accepted, BUDGETS)
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
    const validate = rates.guard(() => TopicValidatorResult.Accept, accepted, BUDGETS)
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
    const validate = rates.guard(() => TopicValidatorResult.Accept, sameWallet, BUDGETS)
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
    const rejecting = rates.guard(() => TopicValidatorResult.Reject, accepted, BUDGETS)
    for (let i = 0; i < 5; i++) expect(rejecting(device, record(device))).toBe(TopicValidatorResult.Reject)
    const accepting = rates.guard(async () => TopicValidatorResult.Accept, accepted, BUDGETS)
    expect(await accepting(device, record(device))).toBe(TopicValidatorResult.Accept)
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
    const validate = rates.guard(
      () => TopicValidatorResult.Accept,
      accepted,
      BUDGETS,
      async (message) => (message.type === 'signed' ? tiers.get(message.from.toString()) : undefined),
    )
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

  it('error: a ban delay that is not a positive number', () => {
    const limits = new RelayLimits({ log: silentLoggerFactory('test') })
    expect(() => new RecordRates({ limits, floodBanAfterMs: 0 })).toThrow(RangeError)
  })
})
