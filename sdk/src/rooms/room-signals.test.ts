import { describe, expect, it } from 'vitest'
import { createCallSignalGuard } from '../calls/signals.ts'
import { WIRE_VERSION } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { silentLoggerFactory } from '../logger.ts'
import { DEFAULT_SIGNAL_SETTINGS, SignalGuard, type SignalSettings } from '../signals.ts'
import type { CallSignalEvent, ReadSignal, TypingSignal, VerifiedCertificate } from '../types.ts'
import { RoomSignals, type SignalAccepted } from './room-signals.ts'
import { decodeRecord } from './wire.ts'

const ROOM = 'ab'.repeat(32)
const SELF = { address: '0x1111111111111111111111111111111111111111' as const, peerId: 'self-peer' }
const BOB = '0x2222222222222222222222222222222222222222'
const MESSAGE = 'cd'.repeat(32)

/** A room's signals with the ciphertext as the plaintext's base64url (the sender-key layer is tested elsewhere). */
function signals(settings: SignalSettings = DEFAULT_SIGNAL_SETTINGS) {
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
})
