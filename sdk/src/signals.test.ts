import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SIGNAL_RECEIVE_BURST, SIGNALS_RECEIVED_PER_SECOND, TYPING_SEND_INTERVAL_MS } from './constants.ts'
import { SignalGuard, SignalPacer } from './signals.ts'

describe('SignalPacer', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  function pacer() {
    const sent: Array<{ typing: boolean } | { read: string }> = []
    const p = new SignalPacer({
      sendTyping: async (typing) => void sent.push({ typing }),
      sendRead: async (read) => void sent.push({ read }),
      now: () => Date.now(),
    })
    return { p, sent }
  }

  it('behavior: typing goes out at most once per TYPING_SEND_INTERVAL_MS while the person types, and one stop after', () => {
    const { p, sent } = pacer()
    for (let i = 0; i < 50; i++) {
      p.typing(true)
      vi.advanceTimersByTime(100)
    }
    // 5 s of keystrokes: the first, and one per interval after it.
    expect(sent).toEqual(Array(1 + Math.floor(4_900 / TYPING_SEND_INTERVAL_MS)).fill({ typing: true }))
    expect(p.typing(false)).toBe(true)
    expect(p.typing(false)).toBe(false)
    expect(sent.at(-1)).toEqual({ typing: false })
    // Typing again after a stop is told at once.
    expect(p.typing(true)).toBe(true)
  })

  it('behavior: a stop without a typing before it sends nothing', () => {
    const { p, sent } = pacer()
    expect(p.typing(false)).toBe(false)
    expect(sent).toEqual([])
  })

  it('behavior: read positions are coalesced, the last one named', () => {
    const { p, sent } = pacer()
    p.read('a')
    p.read('b')
    p.read('c')
    expect(sent).toEqual([])
    vi.runAllTimers()
    expect(sent).toEqual([{ read: 'c' }])
    p.read('d')
    p.stop()
    vi.runAllTimers()
    expect(sent).toEqual([{ read: 'c' }])
  })
})

describe('SignalGuard', () => {
  it('behavior: a flood from one sender is dropped past its burst, counted, and another sender is not affected', () => {
    let nowMs = 0
    const guard = new SignalGuard({ now: () => nowMs })
    const admitted = Array.from({ length: 1_000 }, () => guard.admit('flooder')).filter(Boolean).length
    expect(admitted).toBe(SIGNAL_RECEIVE_BURST)
    expect(guard.dropped).toBe(1_000 - SIGNAL_RECEIVE_BURST)
    expect(guard.admit('honest')).toBe(true)
    nowMs += 1_000
    expect(Array.from({ length: 10 }, () => guard.admit('flooder')).filter(Boolean).length).toBe(
      SIGNALS_RECEIVED_PER_SECOND,
    )
  })

  it('behavior: it keeps a bounded number of senders', () => {
    const guard = new SignalGuard({ now: () => 0 })
    for (let i = 0; i < 5_000; i++) guard.admit(`sender ${i}`)
    // The oldest were forgotten: the first sender has a full bucket again.
    expect(Array.from({ length: SIGNAL_RECEIVE_BURST }, () => guard.admit('sender 0')).every(Boolean)).toBe(true)
  })
})
