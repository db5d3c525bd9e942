import { InvalidInputError } from '@securechat/sdk/errors'
import type { HistoryRange } from '@securechat/sdk/history'

/**
 * A page cursor names the last record of the page in its ordering: `t` (time) or `l`
 * (Lamport), the key, the message id and the sender, joined by `:` — all within the history
 * protocol's cursor alphabet. Clients treat it as opaque; the store parses it strictly.
 */
export interface Cursor {
  by: HistoryRange['by']
  key: number
  id: string
  sender: string
}

const CURSOR = /^([tl]):(\d{1,16}):([0-9a-f]{64}):([1-9A-HJ-NP-Za-km-z]{1,128})$/

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.by === 'time' ? 't' : 'l'}:${cursor.key}:${cursor.id}:${cursor.sender}`
}

/** Parses a cursor made by `encodeCursor` for ordering `by`; anything else is the asker's error. */
export function decodeCursor(text: string, by: HistoryRange['by']): Cursor {
  const match = CURSOR.exec(text)
  const key = Number(match?.[2])
  if (match === null || !Number.isSafeInteger(key) || (match[1] === 't') !== (by === 'time')) {
    throw new InvalidInputError('cursor: not one this store made for this ordering', {
      details: { cursor: text.slice(0, 64), by },
      hint: 'pass the cursor of the previous page of the same query',
    })
  }
  return { by, key, id: match[3] as string, sender: match[4] as string }
}
