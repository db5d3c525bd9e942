import { afterEach, describe, expect, it, vi } from 'vitest'
import { DISAPPEAR_CLOCK_SKEW_MS, MAX_TIMER_CHANGES } from './constants.ts'
import {
  countsFromMs,
  describeTimer,
  dmTimerRefusal,
  ExpiryClock,
  isTimerSeconds,
  parseTimer,
  TimerHistory,
} from './disappearing.ts'
import { MessageStates } from './message-state.ts'
import type { Address, TimerChange } from './types.ts'

const OWNER = '0x1111111111111111111111111111111111111111' as Address
const OTHER = '0x2222222222222222222222222222222222222222' as Address
const id = (n: number): string => n.toString(16).padStart(64, '0')
const timer = (n: number, sentAtMs: number, seconds: number, sender = OWNER): TimerChange => ({
  id: id(1000 + n),
  sender,
  senderPeerId: 'peer',
  sentAtMs,
  seconds,
})
const text = (states: MessageStates, n: number, sentAtMs: number, receivedAtMs = sentAtMs) =>
  states.text({
    id: id(n),
    sender: OTHER,
    senderPeerId: 'peer',
    sentAtMs,
    body: `message ${n}`,
    parentId: undefined,
    receivedAtMs,
  })

describe('disappearing-message timers', () => {
  it('takes off, or 10 s to a year, in the forms people write', () => {
    expect(parseTimer('off')).toBe(0)
    expect(parseTimer('10s')).toBe(10)
    expect(parseTimer('5m')).toBe(300)
    expect(parseTimer('1h')).toBe(3600)
    expect(parseTimer('1d')).toBe(86_400)
    expect(parseTimer('1w')).toBe(604_800)
    expect(parseTimer('45')).toBe(45)
    expect(() => parseTimer('9s')).toThrow(/not a disappearing-messages timer/)
    expect(() => parseTimer('400d')).toThrow(/not a disappearing-messages timer/)
    expect(() => parseTimer('soon')).toThrow(/not a duration/)
    expect(isTimerSeconds(1.5)).toBe(false)
    expect(describeTimer(3600)).toBe('1 hour')
    expect(describeTimer(300)).toBe('5 minutes')
    expect(describeTimer(90)).toBe('90 seconds')
    expect(describeTimer(0)).toBe('off')
  })

  it('lets either wallet of a DM change it, in any case, and nobody else', () => {
    expect(dmTimerRefusal([OWNER, OTHER], OWNER.toUpperCase().replace('0X', '0x'))).toBeUndefined()
    expect(dmTimerRefusal([OWNER, OTHER], OTHER)).toBeUndefined()
    expect(dmTimerRefusal([OWNER, OTHER], `0x${'3'.repeat(40)}`)).toMatch(/two wallets/)
  })

  it('gives each message the timer in force when it was sent, whatever order the changes came in', () => {
    const history = new TimerHistory()
    history.add(timer(2, 2_000, 0))
    history.add(timer(1, 1_000, 60))
    expect(history.add(timer(1, 1_000, 60))).toBe(false)
    expect(history.secondsAt(500)).toBe(0)
    expect(history.secondsAt(1_000)).toBe(60)
    expect(history.secondsAt(1_999)).toBe(60)
    expect(history.secondsAt(2_000)).toBe(0)
    expect(history.current()?.seconds).toBe(0)
    for (let n = 0; n < MAX_TIMER_CHANGES + 5; n++) history.add(timer(10 + n, 10_000 + n, 10))
    expect(history.size).toBe(MAX_TIMER_CHANGES)
  })

  it("counts from the sender's stated time, from no later than its arrival plus the skew allowed", () => {
    expect(countsFromMs(1_000, 5_000)).toBe(1_000)
    expect(countsFromMs(10_000_000, 5_000)).toBe(5_000 + DISAPPEAR_CLOCK_SKEW_MS)
  })
})

describe('MessageStates with a timer', () => {
  it('drops a message past its time — text, reactions, the changes waiting — and saves none of it', () => {
    const states = new MessageStates()
    text(states, 1, 500) // before the timer: stays
    expect(states.setTimer(timer(1, 1_000, 10))).toBe(true)
    text(states, 2, 2_000)
    states.change({
      kind: 'react',
      emoji: '👍',
      remove: false,
      id: id(3),
      target: id(2),
      sender: OWNER,
      senderPeerId: 'p',
      sentAtMs: 2_500,
    })
    states.change({
      kind: 'edit',
      body: 'waiting',
      id: id(4),
      target: id(9),
      sender: OTHER,
      senderPeerId: 'p',
      sentAtMs: 3_000,
    })
    expect(states.expiresAtMs(id(2))).toBe(12_000)
    expect(states.nextExpiryMs()).toBe(12_000)
    expect(states.expire(11_999)).toEqual([])
    expect(states.expire(12_000)).toEqual([id(2)])
    expect(states.get(id(2))).toBeUndefined()
    expect(states.get(id(1))?.text).toBe('message 1')
    expect(states.nextExpiryMs()).toBe(13_000)
    states.expire(13_000)
    const saved = JSON.stringify(states.serialize())
    expect(saved).not.toContain('message 2')
    expect(saved).not.toContain('waiting')
    expect(new MessageStates({ saved: states.serialize() }).timer()?.seconds).toBe(10)
  })

  it('never keeps a message that arrives past its time, and takes replies out of their thread', () => {
    const states = new MessageStates()
    states.setTimer(timer(1, 1_000, 10))
    const late = text(states, 1, 2_000, 60_000)
    expect(late.expired).toBe(true)
    expect(late.state.text).toBeUndefined()
    expect(states.get(id(1))).toBeUndefined()
    const root = new MessageStates()
    root.text({ id: id(1), sender: OTHER, senderPeerId: 'p', sentAtMs: 0, body: 'root', parentId: undefined })
    root.setTimer(timer(1, 1_000, 10))
    root.text({ id: id(2), sender: OTHER, senderPeerId: 'p', sentAtMs: 2_000, body: 'reply', parentId: id(1) })
    expect(root.get(id(1))?.thread.count).toBe(1)
    root.expire(12_000)
    expect(root.get(id(1))?.thread).toEqual({ count: 0, last: undefined })
  })

  it("bounds a sender's clock ahead: its message counts from its arrival plus the skew", () => {
    const states = new MessageStates()
    states.setTimer(timer(1, 0, 10))
    text(states, 1, 10_000_000, 1_000)
    expect(states.expiresAtMs(id(1))).toBe(1_000 + DISAPPEAR_CLOCK_SKEW_MS + 10_000)
    const reloaded = new MessageStates({ saved: states.serialize() })
    expect(reloaded.expiresAtMs(id(1))).toBe(1_000 + DISAPPEAR_CLOCK_SKEW_MS + 10_000)
  })
})

describe('ExpiryClock', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a message added sweeps at its expiry without walking every message; a later one keeps the sooner sweep', () => {
    vi.useFakeTimers({ now: 0 })
    let walks = 0
    const sweeps: number[] = []
    const clock = new ExpiryClock({
      next: () => {
        walks += 1
        return undefined
      },
      sweep: () => sweeps.push(Date.now()),
    })
    clock.added(5_000)
    clock.added(9_000)
    clock.added(undefined)
    expect(walks).toBe(0)
    vi.advanceTimersByTime(4_999)
    expect(sweeps).toEqual([])
    vi.advanceTimersByTime(1)
    expect(sweeps).toEqual([5_000])
    // After a sweep it asks what is next (here: nothing) and stops.
    expect(walks).toBe(1)
    vi.advanceTimersByTime(60_000)
    expect(sweeps).toEqual([5_000])
    clock.added(70_000)
    clock.stop()
    vi.advanceTimersByTime(60_000)
    expect(sweeps).toEqual([5_000])
  })
})
