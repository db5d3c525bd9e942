/**
 * A device's side of the SFU protocol (`sfu-wire.ts`): one stream to the relay whose forwarding unit a call uses,
 * opened with `join`, open for as long as the device is in the call. Requests go out as they are asked for; the
 * relay's frames come back as `sfu:event` events, in order; the session ends (`sfu:closed`, with why) when either
 * side closes, the relay refuses, or a frame is out of protocol.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { describeError } from '../errors.ts'
import { SfuRefusedError, SfuSessionError } from './errors.ts'
import {
  decodeSfuEvent,
  encodeSfuRequest,
  MAX_SFU_FRAME_BYTES,
  SFU_PROTOCOL,
  type SfuEvent,
  type SfuRequest,
} from './sfu-wire.ts'

/** How long opening the stream and writing a frame may take. */
export const SFU_WRITE_TIMEOUT_MS = 15_000

export interface SfuSessionEvents {
  'sfu:event': CustomEvent<Exclude<SfuEvent, { op: 'refused' }>>
  /** The session is over: `error` says why (a refusal is a {@link SfuRefusedError}), undefined when this side closed. */
  'sfu:closed': CustomEvent<{ error: Error | undefined }>
}

export interface SfuSession extends EventTarget {
  readonly relay: string
  request(request: Exclude<SfuRequest, { op: 'join' }>): Promise<void>
  /** Leaves: the relay drops this device's feed and subscriptions. */
  close(): void
  addEventListener<K extends keyof SfuSessionEvents>(
    type: K,
    listener: (event: SfuSessionEvents[K]) => void,
    options?: AddEventListenerOptions | boolean,
  ): void
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: unknown): void
}

/**
 * Of `relays` (the client's known relays connected now: `client.relays.connected()`), the first by PeerId whose
 * identify says it runs a forwarding unit, so that two tabs of one device choose alike; or undefined. Only relays the
 * app was given or an invite named: any other peer could claim the protocol and make this device's calls fail.
 */
export async function findSfuRelay(
  libp2p: Pick<Libp2p, 'peerStore'>,
  relays: readonly string[],
): Promise<string | undefined> {
  for (const relay of [...relays].sort()) {
    const protocols = await libp2p.peerStore.get(peerIdFromString(relay)).then(
      (stored) => stored.protocols,
      (): string[] => [],
    )
    if (protocols.includes(SFU_PROTOCOL)) return relay
  }
  return undefined
}

/**
 * Opens a session with `relay`'s forwarding unit for the call `call` of the room on `topic`. Throws a
 * {@link SfuSessionError} when the relay cannot be reached or does not speak the protocol.
 */
export async function openSfuSession(
  libp2p: Pick<Libp2p, 'dialProtocol'>,
  relay: string,
  join: { topic: string; call: string },
): Promise<SfuSession> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peerIdFromString(relay), SFU_PROTOCOL, {
      signal: AbortSignal.timeout(SFU_WRITE_TIMEOUT_MS),
      runOnLimitedConnection: true,
    })
  } catch (cause) {
    throw new SfuSessionError(
      `the relay whose forwarding unit this call uses cannot be reached: ${describeError(cause)}`,
      {
        details: { relay },
        hint: 'Check the connection to that relay (the call started there), or start a new call.',
        cause,
      },
    )
  }
  const session = new StreamSfuSession(relay, stream)
  await session.request({ op: 'join', ...join })
  session.listen()
  return session
}

class StreamSfuSession extends EventTarget implements SfuSession {
  readonly relay: string
  readonly #stream: Stream
  readonly #lp: ReturnType<typeof lpStream>
  /** Writes in order, one at a time. */
  #writing: Promise<void> = Promise.resolve()
  /** This side closed it (or is closing it). */
  #closed = false
  #ended = false

  constructor(relay: string, stream: Stream) {
    super()
    this.relay = relay
    this.#stream = stream
    this.#lp = lpStream(stream, { maxDataLength: MAX_SFU_FRAME_BYTES })
  }

  request(request: SfuRequest): Promise<void> {
    const frame = encodeSfuRequest(request)
    const written = this.#writing.then(async () => {
      if (this.#closed) throw new SfuSessionError('the call has left its forwarding unit')
      await this.#lp.write(frame, { signal: AbortSignal.timeout(SFU_WRITE_TIMEOUT_MS) })
    })
    this.#writing = written.catch(() => undefined)
    return written
  }

  /** Reads the relay's frames until the stream ends. */
  listen(): void {
    void (async () => {
      for (;;) {
        let bytes: Uint8Array
        try {
          bytes = (await this.#lp.read()).subarray()
        } catch (cause) {
          this.#end(
            this.#closed
              ? undefined
              : new SfuSessionError('the forwarding unit’s relay closed the call’s stream', { cause }),
          )
          return
        }
        const decoded = decodeSfuEvent(bytes)
        if (!decoded.ok) {
          this.#end(new SfuSessionError(`the relay spoke out of the SFU protocol: ${decoded.reason}`))
          return
        }
        const event = decoded.value
        if (event.op === 'refused') {
          this.#end(new SfuRefusedError(event.reason, event.message, { hint: event.hint }))
          return
        }
        this.dispatchEvent(new CustomEvent('sfu:event', { detail: event }))
      }
    })()
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    void this.#stream.close().catch((err: unknown) => this.#stream.abort(err as Error))
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return
    this.#ended = true
    this.#closed = true
    if (error !== undefined) this.#stream.abort(error)
    this.dispatchEvent(new CustomEvent('sfu:closed', { detail: { error } }))
  }
}
