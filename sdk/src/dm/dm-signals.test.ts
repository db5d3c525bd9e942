import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { answerSignal, hereSignal } from '../../../test/helpers/call-signals.ts'
import { CALL_SIGNAL_RECEIVE_BURST } from '../calls/constants.ts'
import { createCallSignalGuard } from '../calls/signals.ts'
import { READ_SEND_DELAY_MS } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError, UnreachableError } from '../errors.ts'
import { silentLoggerFactory } from '../logger.ts'
import { DEFAULT_SIGNAL_SETTINGS, SignalGuard, type SignalSettings } from '../signals.ts'
import type { Address, CallSignalEvent, ReadSignal, TypingSignal } from '../types.ts'
import { DmSignals } from './dm-signals.ts'
import type { DmSessionStore, RemoteDevice } from './session-store.ts'
import { dmEnvelopeSchema } from './wire.ts'

const SELF = '0x1111111111111111111111111111111111111111' as Address
const BOB = '0x2222222222222222222222222222222222222222' as Address
const CAROL = '0x3333333333333333333333333333333333333333' as Address
const ID = 'ab'.repeat(16)

const device = (address: Address, peerId: string): RemoteDevice => ({ address, peerId }) as RemoteDevice
const bobPhone = device(BOB, 'bob-phone')
const myLaptop = device(SELF, 'my-laptop')

function signals(settings: SignalSettings = DEFAULT_SIGNAL_SETTINGS, unreachable: readonly string[] = []) {
  const typing: TypingSignal[] = []
  const reads: ReadSignal[] = []
  const calls: CallSignalEvent[] = []
  const sent: Array<{ to: string; envelope: unknown; ephemeral: boolean; opensSession?: boolean }> = []
  const discovered: Address[] = []
  const store = { devicesOf: (a: Address) => (a === BOB ? [bobPhone] : a === SELF ? [myLaptop] : []) }
  const s = new DmSignals({
    self: SELF,
    selfPeerId: 'my-phone',
    store: store as unknown as DmSessionStore,
    settings: () => settings,
    guard: new SignalGuard(),
    callGuard: createCallSignalGuard(),
    sendTo: async (d, plaintext, options) => {
      sent.push({
        to: d.peerId,
        envelope: dmEnvelopeSchema.parse(JSON.parse(utf8.decode(plaintext))),
        ephemeral: options.ephemeral === true,
        ...(options.opensSession === true ? { opensSession: true } : {}),
      })
      const status = unreachable.includes(d.peerId) ? 'failed' : 'sent'
      return { address: d.address, peerId: d.peerId, status, handshake: false, recipients: 1 } as never
    },
    discoverIfDue: async (peer) => {
      discovered.push(peer)
    },
    track: (work) => work,
    onTyping: (detail) => typing.push(detail),
    onRead: (detail) => reads.push(detail),
    onCall: (detail) => calls.push(detail),
    log: silentLoggerFactory('test'),
  })
  return { s, typing, reads, calls, sent, discovered }
}

describe('DmSignals', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('behavior: a read goes to the other wallet’s devices and, naming the conversation, to this wallet’s; typing only to theirs, ephemeral', async () => {
    const { s, sent } = signals()
    s.read(BOB, ID)
    await vi.advanceTimersByTimeAsync(READ_SEND_DELAY_MS)
    expect(s.typing(BOB, true)).toBe(true)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent).toMatchObject([
      { to: 'bob-phone', envelope: { kind: 'read', upTo: ID }, ephemeral: false },
      { to: 'my-laptop', envelope: { kind: 'read', upTo: ID, to: BOB }, ephemeral: false },
      { to: 'bob-phone', envelope: { kind: 'typing', typing: true }, ephemeral: true },
    ])
    expect((sent[0]!.envelope as { to?: string }).to).toBeUndefined()
  })

  it('behavior: receipts off, the read still goes to this wallet’s own devices only; typing off sends none', async () => {
    const { s, sent } = signals({ receipts: false, typing: false })
    s.read(BOB, ID)
    await vi.advanceTimersByTimeAsync(READ_SEND_DELAY_MS)
    expect(s.typing(BOB, true)).toBe(false)
    expect(sent.map((x) => x.to)).toEqual(['my-laptop'])
  })

  it('error: a read naming a conversation (`to`) from another wallet’s device is refused — it speaks for its own wallet only', () => {
    const { s, reads } = signals()
    s.onRead(bobPhone, { v: 1, kind: 'read', upTo: ID, sentAtMs: 1, to: CAROL }, 1)
    // And one of our own devices without `to` names no conversation.
    s.onRead(myLaptop, { v: 1, kind: 'read', upTo: ID, sentAtMs: 1 }, 1)
    expect(reads).toEqual([])
    s.onRead(bobPhone, { v: 1, kind: 'read', upTo: ID, sentAtMs: 2 }, 2)
    s.onRead(myLaptop, { v: 1, kind: 'read', upTo: ID, sentAtMs: 3, to: CAROL }, 3)
    expect(reads).toMatchObject([
      { conversation: BOB, reader: BOB, own: false },
      { conversation: CAROL, reader: SELF, own: true },
    ])
    expect(s.readOf(BOB)).toMatchObject({ upTo: ID })
  })

  it('behavior: receipts off, the other wallet’s reads are not shown, this wallet’s own still are', () => {
    const { s, reads } = signals({ receipts: false, typing: false })
    s.onRead(bobPhone, { v: 1, kind: 'read', upTo: ID, sentAtMs: 2 }, 2)
    s.onTyping(bobPhone, true, 2)
    s.onRead(myLaptop, { v: 1, kind: 'read', upTo: ID, sentAtMs: 3, to: BOB }, 3)
    expect(reads).toMatchObject([{ conversation: BOB, own: true }])
  })

  it('behavior: a flood of typing from one device is dropped past the guard, without a throw', () => {
    const { s, typing } = signals()
    for (let i = 0; i < 10_000; i++) s.onTyping(bobPhone, true, i)
    expect(typing.length).toBeLessThanOrEqual(10)
  })

  describe('call signals', () => {
    const here = hereSignal()
    const envelope = (signal: object, extra: object = {}) => ({ ...signal, sentAtMs: 7, ...extra }) as never

    it('behavior: a `here` finds a wallet’s devices when none is known, goes to them and, naming the conversation, this wallet’s; ephemeral, opening a session where none is', async () => {
      vi.setSystemTime(42)
      const { s, sent, discovered } = signals()
      await s.sendCall(BOB, here)
      // bob's device is known: no discovery for it.
      expect(discovered).toEqual([])
      expect(sent).toEqual([
        { to: 'bob-phone', envelope: { ...here, sentAtMs: 42 }, ephemeral: true, opensSession: true },
        { to: 'my-laptop', envelope: { ...here, sentAtMs: 42, peer: BOB }, ephemeral: true, opensSession: true },
      ])
      // An answer or a leave rides the sessions there are: it opens none, nor looks for devices.
      sent.length = 0
      await s.sendCall(BOB, answerSignal('bob-phone'))
      expect(sent).toMatchObject([{ to: 'bob-phone', ephemeral: true }])
      expect(sent[0]).not.toHaveProperty('opensSession')
      // A wallet with no device known is looked for first.
      await s.sendCall(CAROL, here).catch(() => undefined)
      expect(discovered).toEqual([CAROL])
    })

    it('behavior: an offer or answer goes only to the device it names; an unknown one is refused with a hint', async () => {
      const { s, sent } = signals()
      await s.sendCall(BOB, answerSignal('bob-phone'))
      await s.sendCall(BOB, answerSignal('my-laptop'))
      expect(sent.map((x) => x.to)).toEqual(['bob-phone', 'my-laptop'])
      await expect(s.sendCall(BOB, answerSignal('carol-phone'))).rejects.toThrow(InvalidInputError)
    })

    it('error: reaching none of the other wallet’s devices throws, with what to do: none found, none reachable, no session for an answer', async () => {
      const { s } = signals(DEFAULT_SIGNAL_SETTINGS, ['bob-phone'])
      await expect(s.sendCall(BOB, here)).rejects.toThrow(UnreachableError)
      await expect(s.sendCall(BOB, here)).rejects.toMatchObject({ hint: expect.stringMatching(/try again/) })
      await expect(s.sendCall(BOB, answerSignal('bob-phone'))).rejects.toMatchObject({
        hint: expect.stringMatching(/only a `here` opens a session/),
      })
      await expect(s.sendCall(CAROL, here)).rejects.toMatchObject({
        hint: expect.stringMatching(/no device of this wallet was found/),
      })
    })

    it('behavior: received from the other wallet or, naming the conversation, from this wallet’s other device', () => {
      const { s, calls } = signals({ receipts: false, typing: false })
      s.onCall(bobPhone, envelope(here))
      s.onCall(bobPhone, envelope(answerSignal('my-phone')))
      s.onCall(myLaptop, envelope(here, { peer: BOB.toLowerCase() }))
      expect(calls).toEqual([
        { conversation: BOB, sender: BOB, senderPeerId: 'bob-phone', signal: here, sentAtMs: 7 },
        { conversation: BOB, sender: BOB, senderPeerId: 'bob-phone', signal: answerSignal('my-phone'), sentAtMs: 7 },
        { conversation: BOB, sender: SELF, senderPeerId: 'my-laptop', signal: here, sentAtMs: 7 },
      ])
    })

    it('error: for another device, malformed, a conversation named by the other wallet or none by this one: dropped', () => {
      const { s, calls } = signals()
      s.onCall(bobPhone, envelope(answerSignal('my-laptop')))
      s.onCall(bobPhone, envelope({ ...here, extra: 1 }))
      s.onCall(bobPhone, envelope({ ...here, op: 'ring' }))
      s.onCall(bobPhone, envelope(here, { peer: CAROL }))
      s.onCall(myLaptop, envelope(here))
      s.onCall(myLaptop, envelope(here, { peer: SELF }))
      expect(calls).toEqual([])
    })

    it('behavior: a flood from one device is dropped past its call budget, without a throw', () => {
      const { s, calls } = signals()
      for (let i = 0; i < 1_000; i++) s.onCall(bobPhone, envelope(here))
      expect(calls).toHaveLength(CALL_SIGNAL_RECEIVE_BURST)
    })
  })
})
