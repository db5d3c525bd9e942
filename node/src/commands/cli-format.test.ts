import { describe, expect, it } from 'vitest'
import { clockTime, formatBytes, isoTime, printable } from './cli-format.ts'

describe('CLI time formatting', () => {
  it('behavior: valid times print as ISO 8601 and HH:MM:SS', () => {
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(clockTime(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('03:04:05')
  })

  it('error: a time that is no Date prints as null or ??:??:??, never throws', () => {
    for (const hostile of [8.64e15 + 1, -8.64e15 - 1, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_VALUE]) {
      expect(isoTime(hostile)).toBeNull()
      expect(clockTime(hostile)).toBe('??:??:??')
    }
  })

  it('behavior: control characters in a text print as \\uXXXX, other characters as they are', () => {
    expect(printable('a\u001b[31mred\nfake line\u0085 ü 🙂')).toBe('a\\u001b[31mred\\u000afake line\\u0085 ü 🙂')
  })
})

describe('CLI sizes and speeds', () => {
  it('behavior: a size or speed prints in its largest unit, rounded, never as a fraction of a byte or 1024 of a unit', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(198.60586626119945)).toBe('199 B')
    expect(formatBytes(1023.6)).toBe('1.0 KiB')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(1024 * 1024 - 300)).toBe('1.0 MiB')
    expect(formatBytes(9.97 * 1024 * 1024)).toBe('10 MiB')
    expect(formatBytes(30 * 1024 * 1024)).toBe('30 MiB')
    expect(formatBytes(2 * 1024 ** 3)).toBe('2.0 GiB')
  })
})
