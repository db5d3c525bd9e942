import { describe, expect, it } from 'vitest'
import { type FileTransferProgress, ProgressMeter } from './progress.ts'

describe('a transfer progress meter', () => {
  it('behavior: speed over the last seconds, time left at that speed', () => {
    let now = 0
    const reports: FileTransferProgress[] = []
    const meter = new ProgressMeter({ listener: (p) => reports.push(p), totalBytes: 100, now: () => now })
    now = 1_000
    meter.add(10)
    expect(reports.at(-1)).toEqual({ bytes: 10, totalBytes: 100, bytesPerSecond: 10, secondsLeft: 9 })
    // Ten seconds later at 2 bytes a second: the old, faster start is out of the window.
    for (let s = 2; s <= 11; s++) {
      now = s * 1_000
      meter.add(2)
    }
    expect(reports.at(-1)!.bytesPerSecond).toBeCloseTo(2, 5)
    expect(reports.at(-1)!.secondsLeft).toBeCloseTo((100 - 30) / 2, 5)
  })

  it('behavior: without a size, bytes and speed but no time left; a resumed transfer counts from its offset', () => {
    let now = 0
    const reports: FileTransferProgress[] = []
    const meter = new ProgressMeter({ listener: (p) => reports.push(p), startBytes: 50, now: () => now })
    now = 2_000
    meter.add(20)
    expect(reports.at(-1)).toEqual({ bytes: 70, bytesPerSecond: 10 })
    // Nothing listens: still counted.
    const quiet = new ProgressMeter({})
    quiet.add(5)
    expect(quiet.bytes).toBe(5)
  })
})
