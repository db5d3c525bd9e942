import { describe, expect, it } from 'vitest'
import { humanSize, timeLeft, transferLine } from './format-size.ts'

describe('file sizes and progress as people read them', () => {
  it('behavior: sizes in binary units, one decimal below ten', () => {
    expect(humanSize(0)).toBe('0 bytes')
    expect(humanSize(1)).toBe('1 byte')
    expect(humanSize(1023)).toBe('1023 bytes')
    expect(humanSize(1536)).toBe('1.5 KiB')
    expect(humanSize(12 * 1024 * 1024)).toBe('12 MiB')
    expect(humanSize(3.25 * 1024 ** 3)).toBe('3.3 GiB')
    expect(humanSize(-1)).toBe('')
  })

  it('behavior: a progress line says bytes, then speed and time left once known', () => {
    expect(transferLine({ bytes: 0, totalBytes: 2048, bytesPerSecond: 0 })).toBe('0 bytes of 2 KiB')
    expect(transferLine({ bytes: 5 * 1024, bytesPerSecond: 1024 })).toBe('5 KiB · 1 KiB/s')
    expect(
      transferLine({
        bytes: 3 * 1024 * 1024,
        totalBytes: 12 * 1024 * 1024,
        bytesPerSecond: 1.5 * 1024 * 1024,
        secondsLeft: 6,
      }),
    ).toBe('3 MiB of 12 MiB · 1.5 MiB/s · about 6 s left')
    expect(timeLeft(150)).toBe('about 3 min left')
    expect(timeLeft(7200)).toBe('about 2 h left')
  })
})
