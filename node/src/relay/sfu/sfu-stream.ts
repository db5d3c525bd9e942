/**
 * One device in one call through the relay's Janus (`sfu-service.ts` admits it): its own Janus session, kept alive
 * and destroyed with the stream; a publisher handle joined under the feed the relay gave it (its `display` is the
 * PeerId the relay authenticated); a subscriber handle from its first `subscribe` on. Frames are handled one at a
 * time in the order they came, each waiting for Janus's answer, so a device cannot have more than one request in
 * Janus at once. Whatever a frame asks out of order (an answer with no offer outstanding) is `malformed`; whatever
 * Janus fails is `unavailable`; either ends the stream, and ending it always destroys the session.
 */
import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { encodeSfuEvent, type SfuEvent, type SfuRefusalReason, type SfuRequest } from '@securechat/sdk/calls'
import type { Logger } from '@securechat/sdk/logger'
import { SFU_JANUS_REQUEST_TIMEOUT_MS } from './constants.ts'
import { JanusError, type JanusJsep, type JanusMessage, type JanusSession } from './janus-api.ts'
import type { JanusRun } from './janus-process.ts'

/** A call the relay forwards: one Janus room, its devices, and who publishes. */
export interface SfuCall {
  readonly key: string
  readonly topic: string
  readonly call: string
  /** The Janus room: a number of the relay's. */
  readonly room: number
  /** The room's secret in Janus (what destroying it takes). */
  readonly secret: string
  /** Created in Janus (a stream waits for it before joining). */
  readonly ready: Promise<void>
  readonly streams: Set<SfuStream>
  /** Feeds publishing now, and whose: what `feeds` frames list. */
  readonly feeds: Map<number, string>
  nextFeed: number
}

/** A refusal to send as the stream's last frame. */
export class SfuRefusal extends Error {
  override readonly name = 'SfuRefusal'
  readonly reason: SfuRefusalReason
  constructor(reason: SfuRefusalReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** Frames written but not yet taken by the device: past this, it is not reading, and the stream ends. */
const MAX_WRITES_QUEUED = 32

export interface SfuStreamInit {
  peer: string
  call: SfuCall
  feed: number
  stream: Stream
  lp: LengthPrefixedStream<Stream>
  log: Logger
  /** The call's feeds changed (this device published or stopped): every device of the call is told. */
  onFeedsChanged: (call: SfuCall) => void
  /** This device's session was lost in Janus. */
  onLost: (stream: SfuStream) => void
}

export class SfuStream {
  readonly peer: string
  readonly feed: number
  readonly call: SfuCall
  readonly #init: SfuStreamInit
  #session: JanusSession | undefined
  #publisher: number | undefined
  #subscriber: number | undefined
  /** The feeds Janus has this device subscribed to. */
  #subscribed = new Set<number>()
  /** An offer was sent and its answer has not come. */
  #offerOutstanding = false
  /** A `subscribe` that came while an offer was outstanding: applied after the answer. */
  #deferred: number[] | undefined
  /** Its publish was answered (its feed is in `feeds` once Janus says its media is up). */
  #published = false
  /** The next plugin event of a handle, for the request waiting on it. */
  readonly #waiters = new Map<number, (event: JanusMessage) => void>()
  #writes: Promise<void> = Promise.resolve()
  #queued = 0
  #ended = false

  constructor(init: SfuStreamInit) {
    this.#init = init
    this.peer = init.peer
    this.feed = init.feed
    this.call = init.call
  }

  get ended(): boolean {
    return this.#ended
  }

  get published(): boolean {
    return this.#published
  }

  /** Its Janus session and publisher handle, joined to the call's room under its feed. Throws on Janus's failure. */
  async open(run: JanusRun): Promise<void> {
    const session = await run.api.createSession()
    this.#session = session
    session.onGone = () => this.#init.onLost(this)
    if (this.#ended) {
      await session.destroy()
      return
    }
    const handle = await session.attach((event) => this.#onPublisherEvent(event))
    this.#publisher = handle
    const event = await this.#ask(session, handle, {
      request: 'join',
      ptype: 'publisher',
      room: this.call.room,
      id: this.feed,
      display: this.peer,
    })
    const data = pluginData(event)
    if (data.videoroom !== 'joined') throw janusRefused('join', data)
  }

  /** One frame of the device, after its join; throws {@link SfuRefusal} or {@link JanusError}. */
  async handle(request: Exclude<SfuRequest, { op: 'join' }>): Promise<void> {
    switch (request.op) {
      case 'publish':
        return this.#publish(request.sdp)
      case 'subscribe':
        return this.#subscribe(request.feeds)
      case 'answer':
        return this.#answer(request.sdp)
    }
  }

  /** Writes a frame; a device that reads nothing for {@link MAX_WRITES_QUEUED} frames is dropped. */
  send(event: SfuEvent): void {
    if (this.#ended) return
    if (this.#queued >= MAX_WRITES_QUEUED) {
      this.#init.stream.abort(new Error('the device reads no frames'))
      return
    }
    this.#queued += 1
    const bytes = encodeSfuEvent(event)
    this.#writes = this.#writes
      .then(() => this.#init.lp.write(bytes, { signal: AbortSignal.timeout(SFU_JANUS_REQUEST_TIMEOUT_MS) }))
      .catch(() => this.#init.stream.abort(new Error('a frame could not be written')))
      .finally(() => {
        this.#queued -= 1
      })
  }

  /** The call's feeds, now. */
  sendFeeds(): void {
    this.send({ op: 'feeds', feeds: [...this.call.feeds].map(([feed, peer]) => ({ feed, peer })) })
  }

  /**
   * Ends the stream: the refusal (if any) as its last frame, the stream closed, the Janus session destroyed (its
   * handles, the feed it published, the subscriptions with it). Idempotent; never throws.
   */
  async end(refusal?: { reason: SfuRefusalReason; message: string; hint: string }): Promise<void> {
    if (this.#ended) return
    if (refusal !== undefined) this.send({ op: 'refused', ...refusal })
    this.#ended = true
    for (const waiter of this.#waiters.values()) waiter({ janus: 'ended' })
    this.#waiters.clear()
    const session = this.#session
    this.#session = undefined
    // The stream's close is not waited for (a device that never closes its side must not hold the relay); the
    // session's destruction is, so that nothing of this device is left in Janus when its place is given back.
    void this.#writes
      .then(() => this.#init.stream.close({ signal: AbortSignal.timeout(SFU_JANUS_REQUEST_TIMEOUT_MS) }))
      .catch((err: unknown) => this.#init.stream.abort(err instanceof Error ? err : new Error(String(err))))
    await session?.destroy()
  }

  async #publish(sdp: string): Promise<void> {
    const { session, handle } = this.#handles(this.#publisher)
    // A second publish renegotiates what Janus already has: `configure` with the new offer.
    const event = await this.#ask(
      session,
      handle,
      { request: this.#published ? 'configure' : 'publish' },
      {
        type: 'offer',
        sdp,
      },
    )
    const data = pluginData(event)
    if (event.jsep?.type !== 'answer' || typeof data.error === 'string') throw janusRefused('publish', data)
    this.send({ op: 'published', sdp: event.jsep.sdp })
    this.#published = true
  }

  async #subscribe(feeds: number[]): Promise<void> {
    if (this.#offerOutstanding) {
      this.#deferred = feeds
      return
    }
    // Only feeds publishing in this call: another call's numbers, or one that just stopped, are left out (the
    // device subscribes again on the next `feeds`).
    const wanted = new Set(feeds.filter((feed) => this.call.feeds.has(feed)))
    const add = [...wanted].filter((feed) => !this.#subscribed.has(feed))
    const drop = [...this.#subscribed].filter((feed) => !wanted.has(feed))
    if (add.length === 0 && drop.length === 0) return
    const session = this.#handles(this.#publisher).session
    if (this.#subscriber === undefined) {
      if (add.length === 0) return
      const handle = await session.attach((event) => this.#onSubscriberEvent(event))
      this.#subscriber = handle
      try {
        const attached = await this.#ask(session, handle, {
          request: 'join',
          ptype: 'subscriber',
          room: this.call.room,
          streams: add.map((feed) => ({ feed })),
        })
        const data = pluginData(attached)
        if (data.videoroom !== 'attached') throw janusRefused('subscribe', data)
      } catch (err) {
        this.#subscriber = undefined
        await session.detach(handle)
        if (isNoSuchFeed(err)) return
        throw err
      }
    } else {
      const handle = this.#subscriber
      try {
        const updated = await this.#ask(session, handle, {
          request: 'update',
          ...(add.length === 0 ? {} : { subscribe: add.map((feed) => ({ feed })) }),
          ...(drop.length === 0 ? {} : { unsubscribe: drop.map((feed) => ({ feed })) }),
        })
        const data = pluginData(updated)
        if (typeof data.error === 'string') throw janusRefused('subscribe', data)
      } catch (err) {
        if (isNoSuchFeed(err)) return
        throw err
      }
    }
    this.#subscribed = wanted
  }

  async #answer(sdp: string): Promise<void> {
    if (!this.#offerOutstanding || this.#subscriber === undefined) {
      throw new SfuRefusal('malformed', 'an answer with no offer outstanding')
    }
    const { session, handle } = this.#handles(this.#subscriber)
    const data = pluginData(await this.#ask(session, handle, { request: 'start' }, { type: 'answer', sdp }))
    if (typeof data.error === 'string') throw janusRefused('answer', data)
    this.#offerOutstanding = false
    const deferred = this.#deferred
    this.#deferred = undefined
    if (deferred !== undefined) await this.#subscribe(deferred)
  }

  #onPublisherEvent(event: JanusMessage): void {
    if (event.janus === 'event') {
      const waiter = this.#waiters.get(this.#publisher ?? 0)
      if (waiter !== undefined) waiter(event)
      // Its own media stopped (Janus says `unpublished: 'ok'` to the publisher itself).
      else if (pluginData(event).unpublished === 'ok') this.#unpublished()
    } else if (event.janus === 'webrtcup') {
      // Its media is up (ICE and DTLS done): only now may others subscribe to it — Janus refuses a subscription to a
      // publisher whose connection is not up as "no such feed" — so only now is it in `feeds`.
      if (!this.#published || this.call.feeds.has(this.feed)) return
      this.call.feeds.set(this.feed, this.peer)
      this.#init.onFeedsChanged(this.call)
    } else if (event.janus === 'hangup') {
      // Its peer connection closed (ICE or DTLS failed, or it hung up): it publishes nothing now.
      this.#unpublished()
    }
  }

  #onSubscriberEvent(event: JanusMessage): void {
    if (event.janus !== 'event') return
    // Janus offers on a join, on an update, and by itself when a subscribed feed stopped: each goes to the device.
    if (event.jsep?.type === 'offer') {
      const data = pluginData(event)
      this.#offerOutstanding = true
      const streams = Array.isArray(data.streams) ? (data.streams as Array<Record<string, unknown>>) : []
      this.send({
        op: 'offer',
        sdp: event.jsep.sdp,
        streams: streams.flatMap((stream) =>
          typeof stream.mid === 'string' &&
          typeof stream.feed_id === 'number' &&
          stream.active !== false &&
          this.call.feeds.has(stream.feed_id)
            ? [{ mid: stream.mid, feed: stream.feed_id }]
            : [],
        ),
      })
    }
    this.#waiters.get(this.#subscriber ?? 0)?.(event)
  }

  #unpublished(): void {
    this.#published = false
    if (this.call.feeds.get(this.feed) !== this.peer) return
    this.call.feeds.delete(this.feed)
    this.#init.onFeedsChanged(this.call)
  }

  /**
   * Sends an asynchronous VideoRoom request and waits for the handle's next plugin event, its answer, within the
   * request timeout. A request Janus refuses at once throws, and its wait goes with it.
   */
  async #ask(
    session: JanusSession,
    handle: number,
    body: Record<string, unknown>,
    jsep?: JanusJsep,
  ): Promise<JanusMessage> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const answered = new Promise<JanusMessage>((resolve, reject) => {
      timer = setTimeout(() => {
        this.#waiters.delete(handle)
        reject(new JanusError('Janus did not answer in time'))
      }, SFU_JANUS_REQUEST_TIMEOUT_MS)
      this.#waiters.set(handle, (event) => {
        clearTimeout(timer)
        this.#waiters.delete(handle)
        if (event.janus === 'ended') reject(new JanusError('the stream ended'))
        else resolve(event)
      })
    })
    // The wait may end (the stream ended, the timer) while the request itself is still on its way: handled here, so
    // that no rejection goes unhandled in between and takes the relay down; the caller still gets it below.
    answered.catch(() => undefined)
    try {
      await session.message(handle, body, jsep)
    } catch (err) {
      clearTimeout(timer)
      this.#waiters.delete(handle)
      throw err
    }
    return answered
  }

  #handles(handle: number | undefined): { session: JanusSession; handle: number } {
    const session = this.#session
    if (session === undefined || handle === undefined || session.gone) throw new JanusError('no Janus session')
    return { session, handle }
  }
}

function pluginData(event: JanusMessage): Record<string, unknown> {
  return event.plugindata?.data ?? {}
}

function janusRefused(what: string, data: Record<string, unknown>): JanusError {
  const code = typeof data.error_code === 'number' ? data.error_code : undefined
  return new JanusError(`VideoRoom refused ${what}: ${String(data.error ?? 'no answer')}`, code)
}

/** VideoRoom's "no such feed" (428): a feed that stopped between `feeds` and `subscribe`. */
function isNoSuchFeed(err: unknown): boolean {
  return err instanceof JanusError && err.code === 428
}
