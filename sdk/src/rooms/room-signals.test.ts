import { describe, expect, it } from 'vitest'
import { hereSignal, offerSignal } from '../../../test/helpers/call-signals.ts'
import { CALL_MAX_SDP_BYTES, CALL_SIGNAL_RECEIVE_BURST } from '../calls/constants.ts'
import { createCallSignalGuard } from '../calls/signals.ts'
import { MAX_MESSAGE_BYTES, WIRE_VERSION } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { silentLoggerFactory } from '../logger.ts'
import { DEFAULT_SIGNAL_SETTINGS, SignalGuard, type SignalSettings } from '../signals.ts'
import type { CallSignalEvent, ReadSignal, TypingSignal, VerifiedCertificate } from '../types.ts'
import { RoomSignals, type RoomSignalsComponents, type SignalAccepted } from './room-signals.ts'
import { decodeRecord } from './wire.ts'

const ROOM = 'ab'.repeat(32)
const SELF = { address: '0x1111111111111111111111111111111111111111' as const, peerId: 'self-peer' }
const BOB = '0x2222222222222222222222222222222222222222'
const MESSAGE = 'cd'.repeat(32)

/** A room's signals with the ciphertext as the plaintext's base64url (the sender-key layer is tested elsewhere). */
function signals(settings: SignalSettings = DEFAULT_SIGNAL_SETTINGS, overrides: Partial<RoomSignalsComponents> = {}) {
  const typing: TypingSignal[] = []
  const reads: ReadSignal[] = []
  const calls: CallSignalEvent[] = []
  const published: Uint8Array[] = []
  let decrypted = 0
  const s = new RoomSignals({
    roomId: ROOM,
    self: SELF,
    settings: () => settings,
    guard: new SignalGuard(),
    callGuard: createCallSignalGuard({ now: () => 1_000 }),
    encrypt: async (plaintext) => Buffer.from(plaintext).toString('base64url'),
    decrypt: async (_from, ct) => {
      decrypted += 1
      return new Uint8Array(Buffer.from(ct, 'base64url'))
    },
    publish: async (bytes) => void published.push(bytes),
    onTyping: (detail) => typing.push(detail),
    onRead: (detail) => reads.push(detail),
    onCall: (detail) => calls.push(detail),
    now: () => 1_000,
    log: silentLoggerFactory('test'),
    ...overrides,
  })
  return { s, typing, reads, calls, published, decrypted: () => decrypted }
}

function accepted(type: 'typing' | 'read' | 'call', inner: unknown, from = 'bob-peer', address = BOB): SignalAccepted {
  const ct = Buffer.from(utf8.encode(JSON.stringify(inner))).toString('base64url')
  return {
    type,
    record: { v: WIRE_VERSION, type, room: ROOM, sentAtMs: 2_000, payload: { enc: 'sender-key', ct } },
    certificate: { address } as VerifiedCertificate,
    from,
  } as SignalAccepted
}

describe('RoomSignals', () => {
  it('behavior: typing and read positions are told under the sender’s certificate, whatever the content says', async () => {
    const { s, typing, reads } = signals()
    await s.receive(accepted('typing', { v: 1, kind: 'typing', typing: true }))
    await s.receive(accepted('read', { v: 1, kind: 'read', upTo: MESSAGE }))
    expect(typing).toEqual([
      { conversation: ROOM, sender: BOB, senderPeerId: 'bob-peer', typing: true, sentAtMs: 2_000 },
    ])
    expect(reads).toMatchObject([{ conversation: ROOM, reader: BOB, upTo: MESSAGE, own: false }])
    expect(s.reads()).toHaveLength(1)
  })

  it('error: a read that names a wallet, an unknown field, a content of another type than its record: dropped, no throw', async () => {
    const { s, typing, reads } = signals()
    await s.receive(accepted('read', { v: 1, kind: 'read', upTo: MESSAGE, reader: SELF.address }))
    await s.receive(accepted('read', { v: 1, kind: 'typing', typing: true }))
    await s.receive(accepted('typing', { v: 1, kind: 'read', upTo: MESSAGE }))
    await s.receive(accepted('typing', 'not an envelope'))
    await s.receive(accepted('read', { v: 1, kind: 'read', upTo: 'not-an-id' }))
    expect(typing).toEqual([])
    expect(reads).toEqual([])
  })

  it('behavior: this wallet’s other device reading is `own`; an older read does not replace a newer one', async () => {
    const { s, reads } = signals()
    await s.receive(accepted('read', { v: 1, kind: 'read', upTo: MESSAGE }, 'other-device', SELF.address))
    expect(reads).toMatchObject([{ reader: SELF.address, own: true }])
    const older = accepted('read', { v: 1, kind: 'read', upTo: 'ef'.repeat(32) }, 'other-device', SELF.address)
    older.record.sentAtMs = 1_500
    await s.receive(older)
    expect(reads).toHaveLength(1)
  })

  it('behavior: a flood of typing records is dropped past the guard’s burst, before decryption', async () => {
    const { s, typing, decrypted } = signals()
    await Promise.all(
      Array.from({ length: 1_000 }, () => s.receive(accepted('typing', { v: 1, kind: 'typing', typing: true }))),
    )
    expect(typing.length).toBeLessThanOrEqual(10)
    expect(decrypted()).toBe(typing.length)
  })

  it('behavior: turned off, nothing is sent nor shown (not even decrypted)', async () => {
    const { s, typing, reads, published, decrypted } = signals({ receipts: false, typing: false })
    await s.receive(accepted('typing', { v: 1, kind: 'typing', typing: true }))
    await s.receive(accepted('read', { v: 1, kind: 'read', upTo: MESSAGE }))
    expect(s.typing(true)).toBe(false)
    s.read(MESSAGE)
    s.stop()
    expect([typing, reads, published, decrypted()]).toEqual([[], [], [], 0])
  })

  it('behavior: what it sends is a `typing` record that decodes as one, the content encrypted', async () => {
    const { s, published } = signals()
    expect(s.typing(true)).toBe(true)
    await new Promise((resolve) => setImmediate(resolve))
    const decoded = decodeRecord(published[0]!)
    expect(decoded.status).toBe('ok')
    expect(decoded.status === 'ok' && decoded.record.type).toBe('typing')
    expect(utf8.decode(published[0]!)).not.toContain('"kind"')
  })

  describe('call signals', () => {
    const here = hereSignal()

    it('behavior: a `here` and an offer to this device are told under the sender’s certificate; one to another device is dropped', async () => {
      const { s, calls } = signals()
      await s.receive(accepted('call', here))
      await s.receive(accepted('call', offerSignal(SELF.peerId)))
      await s.receive(accepted('call', offerSignal('carol-peer')))
      expect(calls).toEqual([
        { conversation: ROOM, sender: BOB, senderPeerId: 'bob-peer', signal: here, sentAtMs: 2_000 },
        {
          conversation: ROOM,
          sender: BOB,
          senderPeerId: 'bob-peer',
          signal: offerSignal(SELF.peerId),
          sentAtMs: 2_000,
        },
      ])
    })

    it('error: a malformed signal, another kind inside a `call` record, or this device’s own: dropped, no throw', async () => {
      const { s, calls, typing } = signals()
      await s.receive(accepted('call', { ...here, extra: true }))
      await s.receive(accepted('call', { ...offerSignal(SELF.peerId), sdp: 'x'.repeat(32 * 1024 + 1) }))
      await s.receive(accepted('call', { v: 1, kind: 'typing', typing: true }))
      await s.receive(accepted('typing', here))
      await s.receive(accepted('call', 'not json at all'))
      await s.receive(accepted('call', here, SELF.peerId, SELF.address))
      expect([calls, typing]).toEqual([[], []])
    })

    it('behavior: not turned off by the typing or receipts settings', async () => {
      const { s, calls } = signals({ receipts: false, typing: false })
      await s.receive(accepted('call', here))
      expect(calls).toHaveLength(1)
    })

    it('behavior: past the sender’s call budget, dropped before decryption; typing keeps its own', async () => {
      const { s, calls, typing, decrypted } = signals()
      await Promise.all(Array.from({ length: 200 }, () => s.receive(accepted('call', here))))
      expect(calls).toHaveLength(CALL_SIGNAL_RECEIVE_BURST)
      expect(decrypted()).toBe(CALL_SIGNAL_RECEIVE_BURST)
      await s.receive(accepted('typing', { v: 1, kind: 'typing', typing: true }))
      expect(typing).toHaveLength(1)
    })

    it('behavior: what it sends is a `call` record whose content is the signal, encrypted; the largest SDP fits', async () => {
      const { s, published } = signals()
      await s.sendCall(here)
      const decoded = decodeRecord(published[0]!)
      expect(decoded).toMatchObject({ status: 'ok', record: { type: 'call', room: ROOM, sentAtMs: 1_000 } })
      expect(utf8.decode(published[0]!)).not.toContain('"key"')
      const record = decoded.status === 'ok' ? decoded.record : undefined
      const ct = record !== undefined && 'payload' in record ? record.payload.ct : ''
      expect(JSON.parse(Buffer.from(ct, 'base64url').toString())).toEqual(here)
      // An SDP of real lines (CRLF-ended, escaped in JSON) at the limit still makes a record within MAX_MESSAGE_BYTES.
      const line = 'a=candidate:1 1 udp 2122260223 192.168.1.10 54321 typ host generation 0\r\n'
      const sdp = line.repeat(Math.floor(CALL_MAX_SDP_BYTES / line.length))
      await s.sendCall({ ...offerSignal('carol-peer'), sdp })
      expect(published[1]!.byteLength).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
    })

    it('error: sending before the room can encrypt says so', async () => {
      const { s } = signals(DEFAULT_SIGNAL_SETTINGS, { encrypt: async () => undefined })
      await expect(s.sendCall(here)).rejects.toThrow(/join the room/)
    })
  })
})
