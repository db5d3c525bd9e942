import { describe, expect, it } from 'vitest'
import { FileUnavailableError } from './errors.ts'
import { StallTimer } from './stall-timer.ts'

/** What Helia throws when no connected peer could send a block (`@helia/utils`' `LoadBlockFailedError`). */
function noPeerHadIt(): Error {
  const err = new AggregateError([], 'Failed to load block for bafkrei…')
  err.name = 'LoadBlockFailedError'
  return err
}

describe('StallTimer', () => {
  it('behavior: a block no peer had yet is asked for again until one sends it', async () => {
    const timer = new StallTimer({ timeoutMs: 2_000, cid: 'bafkrei…' })
    let asked = 0
    const block = await timer.retrying(async () => {
      asked += 1
      if (asked < 3) throw noPeerHadIt()
      return Uint8Array.of(1)
    })
    timer.stop()
    expect(block).toEqual(Uint8Array.of(1))
    expect(asked).toBe(3)
  })

  it('error: a block no peer ever has ends as the file unavailable, once the wait runs out', async () => {
    const timer = new StallTimer({ timeoutMs: 300, cid: 'bafkrei…' })
    let asked = 0
    const failed = await timer
      .retrying(async (signal) => {
        signal.throwIfAborted()
        asked += 1
        throw noPeerHadIt()
      })
      .catch((err: unknown) => timer.explain(err))
    timer.stop()
    expect(failed).toBeInstanceOf(FileUnavailableError)
    expect((failed as FileUnavailableError).hint).toContain('a download resumes where it stopped')
    expect(asked).toBeGreaterThan(1)
  })

  it('error: any other failure is not asked again', async () => {
    const timer = new StallTimer({ timeoutMs: 2_000, cid: 'bafkrei…' })
    let asked = 0
    await expect(
      timer.retrying(async () => {
        asked += 1
        throw new TypeError('not a block')
      }),
    ).rejects.toThrow('not a block')
    timer.stop()
    expect(asked).toBe(1)
  })
})
