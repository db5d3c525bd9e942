import { describe, expect, it } from 'vitest'
import { utf8 } from './encoding.ts'
import { encodeJsonRecord, recordTypeHint } from './json-records.ts'

describe('recordTypeHint', () => {
  it('behavior: the type a record names first is read from its head, whatever follows', () => {
    const record = (type: string) => encodeJsonRecord({ v: 1, type, room: 'a'.repeat(64), body: 'x' }, 'a record')
    for (const type of ['message', 'init', 'msg', 'presence', 'keys', 'device', 'query', 'messages', 'ms']) {
      expect(recordTypeHint(record(type))).toBe(type)
    }
    expect(recordTypeHint(record(''))).toBeUndefined()
  })

  it('behavior: bytes that are no record, name their type too late or name no plain type give none; nothing throws', () => {
    const late = encodeJsonRecord({ v: 1, room: 'a'.repeat(64), type: 'message' }, 'a record')
    for (const bytes of [
      late,
      new Uint8Array(),
      Uint8Array.of(0xff, 0xfe, 0x22),
      utf8.encode('{"v":1,"type":"'),
      utf8.encode('{"v":1,"type":"messag'),
      Uint8Array.from([...utf8.encode('{"v":1,"type":"'), 0xc3, 0x28, 0x22]),
      utf8.encode('{"v":1,"type":"ke\\"ys","n":0}'),
      utf8.encode(`{"v":1,"type":"${'k'.repeat(40)}"}`),
    ]) {
      expect(recordTypeHint(bytes)).toBeUndefined()
    }
  })
})
