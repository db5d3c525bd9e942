import type { ReadSignal, TypingSignal } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { printSignals } from './signal-lines.ts'

const read = (upTo: string, sentAtMs: number): ReadSignal => ({
  conversation: 'room',
  reader: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  readerPeerId: '12D3KooWother',
  upTo,
  sentAtMs,
  own: true,
})

/** A room as `printSignals` sees it: positions heard before the command listened, and events after. */
class Conversation extends EventTarget {
  readonly #heard: ReadSignal[]

  constructor(heard: ReadSignal[]) {
    super()
    this.#heard = heard
  }

  readPositions(): ReadSignal[] {
    return this.#heard
  }
}

describe('printSignals', () => {
  it('behavior: a read position heard while the command was still joining is printed, then each that comes', () => {
    const room = new Conversation([read('a'.repeat(64), 1_000)])
    const lines: string[] = []
    printSignals(room as unknown as Parameters<typeof printSignals>[0], true, (line) => lines.push(line))
    room.dispatchEvent(new CustomEvent<ReadSignal>('read:received', { detail: read('b'.repeat(64), 2_000) }))
    room.dispatchEvent(
      new CustomEvent<TypingSignal>('typing:changed', {
        detail: { conversation: 'room', sender: read('', 0).reader, senderPeerId: 'p', typing: true, sentAtMs: 3_000 },
      }),
    )
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { type: 'read', upTo: 'a'.repeat(64), own: true },
      { type: 'read', upTo: 'b'.repeat(64) },
      { type: 'typing', typing: true },
    ])
  })
})
