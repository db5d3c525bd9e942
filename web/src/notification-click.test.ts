import { describe, expect, it } from 'vitest'
import {
  type ClientsLike,
  OPEN_MESSAGE,
  openFromNotification,
  openTargetOfHash,
  openTargetOfMessage,
  openUrl,
  type WindowLike,
} from './notification-click.ts'

const ROOM = 'ab'.repeat(32)
const MESSAGE = 'cd'.repeat(32)
const DM = '0x00000000000000000000000000000000000000aA'

/** What the worker did: each window's focus and messages, and the windows it opened. */
function clientsWith(windows: Array<{ focused: boolean }>) {
  const done: string[] = []
  const clients: ClientsLike = {
    matchAll: async (options) => {
      expect(options).toEqual({ type: 'window', includeUncontrolled: true })
      return windows.map(
        (w, i): WindowLike => ({
          focused: w.focused,
          focus: async () => done.push(`focus ${i}`),
          postMessage: (message) => done.push(`post ${i} ${JSON.stringify(message)}`),
        }),
      )
    },
    openWindow: async (url) => done.push(`open ${url}`),
  }
  return { clients, done }
}

describe('a click on a notification', () => {
  it('behavior: tells the focused window of the app which message to open, then focuses it', async () => {
    const { clients, done } = clientsWith([{ focused: false }, { focused: true }])
    await openFromNotification({ conversation: ROOM, message: MESSAGE }, clients)
    expect(done).toEqual([
      `post 1 ${JSON.stringify({ type: OPEN_MESSAGE, conversation: ROOM, message: MESSAGE })}`,
      'focus 1',
    ])
  })

  it('behavior: with no window focused, the first; with none open, opens one at the message', async () => {
    const some = clientsWith([{ focused: false }, { focused: false }])
    await openFromNotification({ conversation: DM, message: MESSAGE.slice(0, 32) }, some.clients)
    expect(some.done.at(-1)).toBe('focus 0')
    const none = clientsWith([])
    await openFromNotification({ conversation: DM, message: MESSAGE }, none.clients)
    expect(none.done).toEqual([`open /#open=${DM}/${MESSAGE}`])
    expect(openTargetOfHash(`#open=${DM}/${MESSAGE}`)).toEqual({ conversation: DM, message: MESSAGE })
  })

  it('behavior: a call’s ring names the conversation only — the click opens it there, or a window at it', async () => {
    // What `Notifications.ring` puts in its notification's data.
    const ring = { conversation: ROOM }
    const open = clientsWith([{ focused: true }])
    await openFromNotification(ring, open.clients)
    expect(open.done).toEqual([`post 0 ${JSON.stringify({ type: OPEN_MESSAGE, conversation: ROOM })}`, 'focus 0'])
    expect(openTargetOfMessage({ type: OPEN_MESSAGE, conversation: ROOM })).toEqual({ conversation: ROOM })
    const none = clientsWith([])
    await openFromNotification({ conversation: DM }, none.clients)
    expect(none.done).toEqual([`open /#open=${DM}`])
    expect(openTargetOfHash(`#open=${DM}`)).toEqual({ conversation: DM })
  })

  it('security: data that is not the app’s ids opens the app as it is, and names nothing in a URL or a message', async () => {
    for (const data of [
      undefined,
      'x',
      { message: MESSAGE },
      { conversation: ROOM, message: 7 },
      { conversation: ROOM, message: '' },
      { conversation: 'javascript:alert(1)' },
      { conversation: 'javascript:alert(1)', message: MESSAGE },
      { conversation: ROOM, message: `${MESSAGE}/../x` },
      { conversation: ROOM, message: 'f'.repeat(129) },
    ]) {
      const none = clientsWith([])
      await openFromNotification(data, none.clients)
      expect(none.done).toEqual(['open /'])
      const open = clientsWith([{ focused: true }])
      await openFromNotification(data, open.clients)
      expect(open.done).toEqual(['focus 0'])
    }
    expect(openTargetOfHash(`#open=${ROOM}/${MESSAGE}/more`)).toBeUndefined()
    expect(openTargetOfHash(`#open=${ROOM}/`)).toBeUndefined()
    expect(openTargetOfHash('#open=')).toBeUndefined()
    expect(openTargetOfHash(`#invite=${ROOM}`)).toBeUndefined()
    expect(openTargetOfMessage({ conversation: ROOM, message: MESSAGE })).toBeUndefined()
    expect(openTargetOfMessage({ type: OPEN_MESSAGE, conversation: ROOM, message: MESSAGE })).toEqual({
      conversation: ROOM,
      message: MESSAGE,
    })
    expect(openUrl({ conversation: ROOM, message: MESSAGE })).toBe(`/#open=${ROOM}/${MESSAGE}`)
  })
})
