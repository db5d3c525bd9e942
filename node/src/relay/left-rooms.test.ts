import { describe, expect, it } from 'vitest'
import { type LeftRoom, LeftRooms } from './left-rooms.ts'

/** A room whose log holds `events` events (only their count matters here). */
function room(events: number): LeftRoom {
  const entries = Array.from({ length: events }, () => ({}))
  return { manifest: undefined, moderation: { entries: () => entries as never } }
}

describe('LeftRooms', () => {
  it('behavior: keeps moderated rooms until taken, and no room nobody moderated', () => {
    const left = new LeftRooms(10)
    const moderated = room(3)
    left.remember('a', moderated)
    left.remember('b', room(0))
    expect(left.size).toEqual({ rooms: 1, events: 3 })
    expect(left.take('b')).toBeUndefined()
    expect(left.take('a')).toBe(moderated)
    expect(left.take('a')).toBeUndefined()
    expect(left.size).toEqual({ rooms: 0, events: 0 })
  })

  it('behavior: past its events the rooms left longest ago go first; a log longer than all it keeps is not kept', () => {
    const left = new LeftRooms(10)
    left.remember('old', room(4))
    left.remember('mid', room(4))
    left.remember('old', room(4)) // left again: now the newest
    left.remember('new', room(4))
    expect(left.size).toEqual({ rooms: 2, events: 8 })
    expect(left.take('mid')).toBeUndefined()
    left.remember('huge', room(11))
    expect(left.take('huge')).toBeUndefined()
    expect(left.size).toEqual({ rooms: 2, events: 8 })
  })
})
