import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { progressLine, savePath } from './files.ts'

describe('where get-file saves', () => {
  it('behavior: --out names the file, or a folder it is saved in under its own name; without it, its name here', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-save-path-'))
    expect(await savePath(join(dir, 'kept.bin'), 'holiday.mp4', false)).toBe(join(dir, 'kept.bin'))
    expect(await savePath(dir, 'holiday.mp4', false)).toBe(join(dir, 'holiday.mp4'))
    expect(await savePath(`${dir}/`, 'holiday.mp4', false)).toBe(join(dir, 'holiday.mp4'))
    expect(await savePath(undefined, 'holiday.mp4', false)).toBe('holiday.mp4')
  })

  it('error: a folder that does not exist, a folder in the way, or a file already there are refused before any download', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-save-path-'))
    await expect(savePath(join(dir, 'nope', 'x.bin'), 'x.bin', false)).rejects.toThrow(
      `cannot save to ${join(dir, 'nope', 'x.bin')}: there is no folder ${join(dir, 'nope')}`,
    )
    await expect(savePath(join(dir, 'nope/'), 'x.bin', false)).rejects.toThrow('there is no folder')
    await mkdir(join(dir, 'x.bin'))
    await expect(savePath(dir, 'x.bin', false)).rejects.toThrow(`cannot save to ${join(dir, 'x.bin')}: it is a folder`)
    await writeFile(join(dir, 'notes.txt'), 'precious notes')
    await expect(savePath(join(dir, 'notes.txt'), 'x.bin', false)).rejects.toThrow(
      'exists already; it was left as it is',
    )
    await expect(savePath(dir, 'notes.txt', false)).rejects.toThrow('exists already')
    expect(await savePath(join(dir, 'notes.txt'), 'x.bin', true)).toBe(join(dir, 'notes.txt'))
  })
})

describe('progress lines', () => {
  it('behavior: at most one a second, the latest printed when the second ends even if nothing follows; done at once', () => {
    vi.useFakeTimers()
    try {
      const lines: string[] = []
      const report = progressLine('downloading', (line) => lines.push(line.trim()))
      const at = (MiB: number) => ({ bytes: MiB * 1024 * 1024, totalBytes: 30 * 1024 * 1024, bytesPerSecond: 0 })
      report(at(1))
      report(at(4))
      report(at(7))
      expect(lines).toEqual(['downloading: 1.0 MiB of 30 MiB'])
      // The transfer stalls here: the line still reaches 7 MiB.
      vi.advanceTimersByTime(1_000)
      expect(lines).toEqual(['downloading: 1.0 MiB of 30 MiB', 'downloading: 7.0 MiB of 30 MiB'])
      vi.advanceTimersByTime(5_000)
      expect(lines).toHaveLength(2)
      report(at(8))
      report(at(30), true)
      vi.advanceTimersByTime(5_000)
      expect(lines.slice(2)).toEqual(['downloading: 8.0 MiB of 30 MiB', 'downloading: 30 MiB of 30 MiB — done'])
    } finally {
      vi.useRealTimers()
    }
  })
})
