import { SFRAME_MAX_CLEAR_BYTES } from '@securechat/sdk/calls'
import { describe, expect, it } from 'vitest'
import { clearBytesOf } from './frame-split.ts'

describe('clearBytesOf', () => {
  it('keeps what the packetizer reads in the clear: Opus TOC, VP8 payload header', () => {
    expect(clearBytesOf('audio', undefined)).toBe(1)
    expect(clearBytesOf('video', 'key')).toBe(10)
    expect(clearBytesOf('video', 'delta')).toBe(3)
    for (const n of [clearBytesOf('audio', undefined), clearBytesOf('video', 'key')]) {
      expect(n).toBeLessThanOrEqual(SFRAME_MAX_CLEAR_BYTES)
    }
  })
})
