/** What a room delivers to a test, and waiting on it by events: shared by the tests that run members in rooms. */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'

/** Longest wait for a delivery or a presence change; they take milliseconds when things work. */
export const DELIVERY_TIMEOUT_MS = 10_000

/**
 * Resolves when `condition()` holds, checking now and after every `type` event on `target`;
 * rejects after `timeoutMs` with `describe()` saying what was still missing.
 */
export function until(
  sources: Array<[EventTarget, string]>,
  condition: () => boolean,
  describe: () => string,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // Whole milliseconds, none below zero: AbortSignal.timeout refuses anything else (callers pass what is left of a budget).
    const signal = AbortSignal.timeout(Math.max(0, Math.ceil(timeoutMs)))
    const cleanup = (): void => {
      for (const [target, type] of sources) target.removeEventListener(type, check)
      signal.removeEventListener('abort', onAbort)
    }
    const check = (): void => {
      if (!condition()) return
      cleanup()
      resolve()
    }
    const onAbort = (): void => {
      cleanup()
      reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`))
    }
    for (const [target, type] of sources) target.addEventListener(type, check)
    signal.addEventListener('abort', onAbort)
    check()
  })
}

/** Every message a room delivers, from the moment it is created. */
export class Inbox {
  readonly room: Room
  readonly messages: RoomMessage[] = []
  /** Messages from verified senders that this device could not read, with the reason. */
  readonly undecryptable: UndecryptableMessage[] = []

  constructor(room: Room) {
    this.room = room
    room.addEventListener('message:received', (event) => {
      this.messages.push(event.detail)
    })
    room.addEventListener('message:undecryptable', (event) => {
      this.undecryptable.push(event.detail)
    })
  }

  texts(): string[] {
    return this.messages.map((m) => m.text)
  }

  /** Waits until every text in `expected` has arrived. */
  async waitFor(expected: readonly string[], who: string, timeoutMs = DELIVERY_TIMEOUT_MS): Promise<void> {
    const missing = (): string[] => expected.filter((text) => !this.texts().includes(text))
    await until(
      [[this.room as unknown as EventTarget, 'message:received']],
      () => missing().length === 0,
      () =>
        `${who} is missing ${JSON.stringify(missing())}; got ${JSON.stringify(this.texts())}` +
        `; undecryptable: ${JSON.stringify(this.undecryptable.map((u) => u.reason))}`,
      timeoutMs,
    )
  }
}
