import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it } from 'vitest'
import type { JanusMessage, JanusSession } from './janus-api.ts'
import type { JanusRun } from './janus-process.ts'
import { type SfuCall, SfuStream } from './sfu-stream.ts'

/**
 * A Janus session that joins at once and takes `publishAckMs` to acknowledge a publish, never answering it: the
 * window in which a device's stream can end while the relay waits on Janus for it.
 */
function slowJanus(publishAckMs: number): { run: JanusRun; destroyed: () => boolean } {
  let onEvent: ((event: JanusMessage) => void) | undefined
  let destroyed = false
  const session = {
    onGone: undefined,
    async attach(listener: (event: JanusMessage) => void) {
      onEvent = listener
      return 7
    },
    async message(_handle: number, body: Record<string, unknown>) {
      if (body.request === 'join') {
        setTimeout(() => onEvent?.({ janus: 'event', sender: 7, plugindata: { data: { videoroom: 'joined' } } }))
        return
      }
      await new Promise((resolve) => setTimeout(resolve, publishAckMs))
    },
    async destroy() {
      destroyed = true
    },
  }
  const run = { api: { createSession: async () => session as unknown as JanusSession } } as unknown as JanusRun
  return { run, destroyed: () => destroyed }
}

function device(): SfuStream {
  const call: SfuCall = {
    key: 'topic/call',
    topic: 'topic',
    call: 'a'.repeat(32),
    room: 1,
    secret: 'secret',
    ready: Promise.resolve(),
    streams: new Set(),
    feeds: new Map(),
    nextFeed: 2,
  }
  const stream = { close: async () => {}, abort: () => {} } as unknown as Stream
  const lp = { write: async () => {} } as unknown as LengthPrefixedStream<Stream>
  return new SfuStream({
    peer: '12D3KooWTest',
    call,
    feed: 1,
    stream,
    lp,
    log: silentLoggerFactory('sfu'),
    onFeedsChanged: () => {},
    onLost: () => {},
  })
}

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
process.on('unhandledRejection', onUnhandled)
afterEach(() => {
  unhandled.length = 0
})

describe('a device in a call through Janus', () => {
  it('error: its stream ends while a publish waits on Janus — the wait fails for the request, nothing is left unhandled, the session goes', async () => {
    // Found by the calls bench: this rejection went unhandled and took the relay's process down.
    const janus = slowJanus(50)
    const one = device()
    await one.open(janus.run)
    const handling = one.handle({ op: 'publish', sdp: 'v=0\r\n' })
    await new Promise((resolve) => setTimeout(resolve, 10))
    await one.end()
    await expect(handling).rejects.toThrow('the stream ended')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(unhandled).toEqual([])
    expect(janus.destroyed()).toBe(true)
  })
})
