import type { AcceptedRecord } from '@securechat/sdk/rooms'
import { describe, expect, it } from 'vitest'
import { roomStoreFacts } from './gossip.ts'

describe('roomStoreFacts', () => {
  it('behavior: messages are history with their Lamport clock, keys history, presence state', () => {
    const base = { certificate: {}, from: 'p' } as unknown as Omit<AcceptedRecord, 'type' | 'record'>
    const message = { ...base, type: 'message', record: { lamport: 42 }, id: 'x', bytes: new Uint8Array() }
    expect(roomStoreFacts(message as unknown as AcceptedRecord)).toEqual({ type: 'message', lamport: 42 })
    expect(roomStoreFacts({ ...base, type: 'keys', record: {} } as unknown as AcceptedRecord)).toEqual({ type: 'keys' })
    expect(roomStoreFacts({ ...base, type: 'presence', record: {} } as unknown as AcceptedRecord)).toEqual({
      type: 'presence',
      supersedes: true,
    })
  })

  it('behavior: a read position is state (each device’s latest), a typing indicator or call signal is not kept at all', () => {
    const base = { certificate: {}, from: 'p', record: {} } as unknown as Omit<AcceptedRecord, 'type'>
    expect(roomStoreFacts({ ...base, type: 'read' } as AcceptedRecord)).toEqual({ type: 'read', supersedes: true })
    expect(roomStoreFacts({ ...base, type: 'typing' } as AcceptedRecord)).toBeUndefined()
    expect(roomStoreFacts({ ...base, type: 'call' } as AcceptedRecord)).toBeUndefined()
  })
})
