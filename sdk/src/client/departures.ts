/**
 * Departure notices (`/securechat/departures/1.0.0`): a relay tells its clients at once that a peer sharing one of
 * their topics went — its connection to the relay closed (a crash, a lost network, a closed tab) — so the others mark
 * it away within a moment instead of after three presence intervals (docs/architecture.md, Presence). A peer that
 * unsubscribes is not told of: it stopped its room (`Room.stop`), which sent its signed leaving presence first, and
 * that says more (away, or `forever`: gone, our keys rotated without it). A notice for the unsubscribe overtook it —
 * the relay handles a subscription change at once, the presence once validated in its turn — so a member leaving
 * for good was reported left (`member:left`) as away, and its going for good was never told.
 *
 *   the client opens one stream to each relay it is connected to and reads; the relay writes a length-prefixed JSON
 *   frame per departure, for the topics the client itself shares with it: { v: 1, topic: <topic>, peer: <PeerId> }
 *
 * Why not gossipsub: it tells a peer only of its own neighbours' subscriptions, and nobody's connection closing; a
 * record the relay published on the topic would be one every member stores and every relay forwards.
 *
 * A notice is a hint: a room believes it only from a relay that carried the member's presence lately
 * (`rooms/presence-witness.ts`), which could make the member look away anyway by dropping what it sends; it marks
 * the member `offline`, never gone, and the member's next presence brings it back.
 */

import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { DEPARTURES_PROTOCOL, MAX_DEPARTURE_NOTICE_BYTES, MAX_QUEUED_DEPARTURE_NOTICES } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { peerIdTextSchema } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions } from '../types.ts'

const noticeSchema = z.object({ v: z.literal(1), topic: z.string().min(1).max(256), peer: peerIdTextSchema }).strict()
export type DepartureNotice = z.infer<typeof noticeSchema>

/** One client's stream, with the notices written to it but not sent yet. */
interface Listener {
  write: (frame: Uint8Array) => Promise<void>
  queued: number
}

/**
 * The relay's side: follows which topics each peer subscribed to (gossipsub forgets a peer's topics when its
 * connection closes, without an event), and on a departure writes a notice to every client that listens and shares
 * the topic. A client whose stream does not keep up loses notices past {@link MAX_QUEUED_DEPARTURE_NOTICES}.
 */
export class DepartureNotices {
  readonly #libp2p: Libp2p
  readonly #pubsub: GossipSub
  readonly #log: Logger
  readonly #topicsOf = new Map<string, Set<string>>()
  readonly #listeners = new Map<string, Listener>()

  constructor(init: { libp2p: Libp2p; pubsub: GossipSub; log: Logger }) {
    this.#libp2p = init.libp2p
    this.#pubsub = init.pubsub
    this.#log = init.log
  }

  async start(): Promise<void> {
    this.#pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    await this.#libp2p.handle(
      DEPARTURES_PROTOCOL,
      (stream, connection) => this.#listen(stream, connection.remotePeer),
      {
        runOnLimitedConnection: false,
      },
    )
  }

  /** Idempotent; the protocol's handler goes with the node (`libp2p.stop`). */
  stop(): void {
    this.#pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#listeners.clear()
    this.#topicsOf.clear()
  }

  #listen(stream: Stream, peer: PeerId): void {
    const id = peer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_DEPARTURE_NOTICE_BYTES })
    let chain = Promise.resolve()
    const listener: Listener = {
      queued: 0,
      write: (frame) => {
        listener.queued += 1
        chain = chain
          .then(() => lp.write(frame))
          .catch((err: unknown) => {
            this.#log.debug('departure notice not sent', { peer: id, error: String(err) })
            if (this.#listeners.get(id) === listener) this.#listeners.delete(id)
          })
          .finally(() => {
            listener.queued -= 1
          })
        return chain
      },
    }
    // One stream per client: a newer one replaces the older.
    this.#listeners.set(id, listener)
    stream.addEventListener('close', () => {
      if (this.#listeners.get(id) === listener) this.#listeners.delete(id)
    })
  }

  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    const peer = event.detail.peerId.toString()
    for (const { topic, subscribe } of event.detail.subscriptions) {
      const topics = this.#topicsOf.get(peer) ?? new Set<string>()
      if (subscribe) {
        topics.add(topic)
        this.#topicsOf.set(peer, topics)
      } else {
        // Its own leaving presence tells the others (see above); its connection closing later is not this topic's.
        topics.delete(topic)
      }
    }
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString()
    this.#listeners.delete(peer)
    const topics = this.#topicsOf.get(peer)
    this.#topicsOf.delete(peer)
    for (const topic of topics ?? []) this.#notify(topic, peer)
  }

  /** To every listening client subscribed to `topic` (as this relay's gossipsub sees it), `peer` excepted. */
  #notify(topic: string, peer: string): void {
    if (this.#listeners.size === 0) return
    const frame = utf8.encode(JSON.stringify({ v: 1, topic, peer } satisfies DepartureNotice))
    for (const subscriber of this.#pubsub.getSubscribers(topic)) {
      const id = subscriber.toString()
      const listener = this.#listeners.get(id)
      if (id === peer || listener === undefined || listener.queued >= MAX_QUEUED_DEPARTURE_NOTICES) continue
      void listener.write(frame)
    }
  }
}

/**
 * The client's side: opens the notice stream to `relay` and hands each well-formed notice to `onNotice` until the
 * stream ends or `signal` aborts. A relay that does not serve the protocol (an older one) ends it at once; a
 * malformed frame ends it too (the relay is not talking the protocol).
 */
export async function followDepartures(
  libp2p: Libp2p,
  relay: PeerId,
  onNotice: (notice: DepartureNotice) => void,
  options: AbortOptions = {},
): Promise<void> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(relay, DEPARTURES_PROTOCOL, options)
  } catch {
    return
  }
  const lp = lpStream(stream, { maxDataLength: MAX_DEPARTURE_NOTICE_BYTES })
  try {
    for (;;) {
      const frame = await lp.read(options)
      const parsed = noticeSchema.safeParse(JSON.parse(utf8.decode(frame.subarray())))
      if (!parsed.success) throw new Error('malformed departure notice')
      onNotice(parsed.data)
    }
  } catch {
    stream.abort(new Error('departure notices ended'))
  }
}
