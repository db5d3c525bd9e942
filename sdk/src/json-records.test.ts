import { describe, expect, it } from 'vitest'
import { utf8 } from './encoding.ts'
import { chatRecordHint, encodeJsonRecord } from './json-records.ts'

describe('chatRecordHint', () => {
  it('behavior: room messages and DM messages are chat, every other record is not', () => {
    const record = (type: string) => encodeJsonRecord({ v: 1, type, room: 'a'.repeat(64), body: 'x' }, 'a record')
    for (const type of ['message', 'init', 'msg']) expect(chatRecordHint(record(type))).toBe(true)
    for (const type of ['presence', 'keys', 'device', 'query', 'messages', 'ms', '']) {
      expect(chatRecordHint(record(type))).toBe(false)
    }
  })

  it('behavior: bytes that are no record, or name their type too late, are not chat; nothing throws', () => {
    const late = encodeJsonRecord({ v: 1, room: 'a'.repeat(64), type: 'message' }, 'a record')
    for (const bytes of [
      late,
      new Uint8Array(),
      Uint8Array.of(0xff, 0xfe, 0x22),
      utf8.encode('{"v":1,"type":"'),
      utf8.encode('{"v":1,"type":"messag'),
      Uint8Array.from([...utf8.encode('{"v":1,"type":"'), 0xc3, 0x28, 0x22]),
    ]) {
      expect(chatRecordHint(bytes)).toBe(false)
    }
  })
})
