/**
 * The relay's client of Janus's HTTP API (janus.conf.meetecho.com/docs/rest): sessions, VideoRoom handles, plugin
 * messages and the events a session's long poll brings. Only the relay uses it, on 127.0.0.1, with the API secret of
 * the configuration it wrote; no npm client — `fetch` and a few types.
 *
 * Ids: Janus makes session and handle ids JavaScript-safe (at most 2^53); one that is not is refused here rather
 * than rounded into someone else's. Feed and room ids are the relay's own small numbers.
 */
import { randomBytes } from 'node:crypto'
import { SFU_JANUS_KEEPALIVE_MS, SFU_JANUS_REQUEST_TIMEOUT_MS } from './constants.ts'

export interface JanusJsep {
  type: 'offer' | 'answer'
  sdp: string
}

/** What a long poll or a request returns (the fields the relay reads). */
export interface JanusMessage {
  janus: string
  transaction?: string
  session_id?: number
  sender?: number
  data?: { id?: unknown }
  plugindata?: { plugin?: string; data?: Record<string, unknown> }
  jsep?: JanusJsep
  error?: { code?: number; reason?: string }
}

/** Janus answered with an error (its code and reason), or did not answer in time. */
export class JanusError extends Error {
  override readonly name = 'JanusError'
  readonly code: number | undefined
  constructor(message: string, code?: number) {
    super(message)
    this.code = code
  }
}

export interface JanusApiInit {
  /** `http://127.0.0.1:<port>/janus`. */
  url: string
  apiSecret: string
  requestTimeoutMs?: number
  keepaliveMs?: number
}

export class JanusApi {
  readonly url: string
  readonly #apiSecret: string
  readonly #timeoutMs: number
  readonly #keepaliveMs: number
  /** Sessions made and not yet destroyed or lost: what a leak would show. */
  openSessions = 0

  constructor(init: JanusApiInit) {
    this.url = init.url
    this.#apiSecret = init.apiSecret
    this.#timeoutMs = init.requestTimeoutMs ?? SFU_JANUS_REQUEST_TIMEOUT_MS
    this.#keepaliveMs = init.keepaliveMs ?? SFU_JANUS_KEEPALIVE_MS
  }

  /** `GET /janus/info`: the server's name, version and plugins (answers without the secret). */
  async info(signal?: AbortSignal): Promise<{ name?: string; version_string?: string; plugins?: object }> {
    const response = await fetch(`${this.url}/info`, { signal: this.#signal(signal) })
    if (!response.ok) throw new JanusError(`Janus /info answered ${response.status}`)
    return (await response.json()) as { name?: string; version_string?: string; plugins?: object }
  }

  /** A new session, polled and kept alive until {@link JanusSession.destroy} or Janus forgets it. */
  async createSession(): Promise<JanusSession> {
    const answer = await this.post('', { janus: 'create' })
    const session = new JanusSession(this, safeId(answer.data?.id, 'session'), this.#keepaliveMs)
    this.openSessions += 1
    session.start()
    return session
  }

  /** One request; an error answer throws {@link JanusError}. */
  async post(path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<JanusMessage> {
    const transaction = randomBytes(9).toString('base64url')
    let response: Response
    try {
      response = await fetch(`${this.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, transaction, apisecret: this.#apiSecret }),
        signal: this.#signal(signal),
      })
    } catch (err) {
      throw new JanusError(`Janus did not answer ${String(body.janus)}: ${String(err)}`)
    }
    const answer = (await response.json().catch(() => ({ janus: 'error' }))) as JanusMessage
    if (answer.janus === 'error') {
      throw new JanusError(
        `Janus refused ${String(body.janus)}: ${answer.error?.reason ?? `HTTP ${response.status}`}`,
        answer.error?.code,
      )
    }
    return answer
  }

  /** One long poll of a session's events (Janus answers within 30 s, with a keepalive if nothing happened). */
  async poll(session: number, signal: AbortSignal): Promise<JanusMessage[]> {
    const secret = encodeURIComponent(this.#apiSecret)
    const response = await fetch(`${this.url}/${session}?maxev=10&apisecret=${secret}`, { signal })
    const answer = (await response.json()) as JanusMessage | JanusMessage[]
    const events = Array.isArray(answer) ? answer : [answer]
    const error = events.find((event) => event.janus === 'error')
    if (error !== undefined) throw new JanusError(`Janus poll: ${error.error?.reason ?? 'error'}`, error.error?.code)
    return events
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    return signal === undefined ? timeout : AbortSignal.any([timeout, signal])
  }
}

/**
 * One Janus session: its handles' events go to their listeners; it is polled and kept alive until destroyed, and
 * `onGone` is called once if Janus forgets it first (a timeout, a crash).
 */
export class JanusSession {
  readonly id: number
  readonly #api: JanusApi
  readonly #keepaliveMs: number
  readonly #listeners = new Map<number, (event: JanusMessage) => void>()
  readonly #stop = new AbortController()
  #keepalive: ReturnType<typeof setInterval> | undefined
  #gone = false
  onGone: (() => void) | undefined

  constructor(api: JanusApi, id: number, keepaliveMs: number) {
    this.#api = api
    this.id = id
    this.#keepaliveMs = keepaliveMs
  }

  get gone(): boolean {
    return this.#gone
  }

  start(): void {
    void this.#pollLoop()
    this.#keepalive = setInterval(() => {
      this.#api.post(`/${this.id}`, { janus: 'keepalive' }, this.#stop.signal).catch((err: unknown) => {
        if (!this.#stop.signal.aborted) this.#lost(err)
      })
    }, this.#keepaliveMs)
    this.#keepalive.unref()
  }

  /** A VideoRoom handle; its events go to `listener`. */
  async attach(listener: (event: JanusMessage) => void): Promise<number> {
    const answer = await this.#api.post(
      `/${this.id}`,
      { janus: 'attach', plugin: 'janus.plugin.videoroom' },
      this.#stop.signal,
    )
    const handle = safeId(answer.data?.id, 'handle')
    this.#listeners.set(handle, listener)
    return handle
  }

  /** A plugin message: a synchronous request's answer (`success`, its `plugindata`), or `ack` for an asynchronous one. */
  async message(handle: number, body: Record<string, unknown>, jsep?: JanusJsep): Promise<JanusMessage> {
    const answer = await this.#api.post(
      `/${this.id}/${handle}`,
      { janus: 'message', body, ...(jsep === undefined ? {} : { jsep }) },
      this.#stop.signal,
    )
    const data = answer.plugindata?.data
    if (data !== undefined && typeof data.error === 'string') {
      throw new JanusError(`VideoRoom refused ${String(body.request)}: ${data.error}`, Number(data.error_code))
    }
    return answer
  }

  /** Detaches a handle (what it published or subscribed to ends); never throws. */
  async detach(handle: number): Promise<void> {
    this.#listeners.delete(handle)
    await this.#api.post(`/${this.id}/${handle}`, { janus: 'detach' }, this.#stop.signal).catch(() => undefined)
  }

  /** Destroys the session in Janus (its handles with it) and stops polling; idempotent, never throws. */
  async destroy(): Promise<void> {
    if (this.#stop.signal.aborted) return
    this.#api.openSessions -= 1
    clearInterval(this.#keepalive)
    this.#listeners.clear()
    this.#stop.abort()
    if (!this.#gone) await this.#api.post(`/${this.id}`, { janus: 'destroy' }).catch(() => undefined)
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let events: JanusMessage[]
      try {
        events = await this.#api.poll(this.id, this.#stop.signal)
      } catch (err) {
        if (!this.#stop.signal.aborted) this.#lost(err)
        return
      }
      for (const event of events) {
        if (event.janus === 'keepalive' || event.sender === undefined) continue
        try {
          this.#listeners.get(event.sender)?.(event)
        } catch {
          // A listener's bug must not stop the session's other handles.
        }
      }
    }
  }

  #lost(err: unknown): void {
    if (this.#gone) return
    // A failed keepalive or poll while Janus is up is a lost session too: its handles cannot be trusted any more.
    this.#gone = true
    void err
    if (!this.#stop.signal.aborted) this.#api.openSessions -= 1
    clearInterval(this.#keepalive)
    this.#stop.abort()
    this.onGone?.()
  }
}

function safeId(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new JanusError(`Janus gave a ${what} id that is not a safe integer`)
  }
  return value
}
