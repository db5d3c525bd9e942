/**
 * A call's media through its relay's forwarding unit (docs/architecture.md, Calls: larger calls) instead of a mesh:
 * one connection publishes this device's media to the unit, one receives the others' from it, both negotiated over an
 * {@link SfuSession} with the relay. The frames stay SFrame-sealed by the call's worker end to end; the unit forwards
 * what it cannot open. `CallMesh` keeps everything else (who is in the call, keys, mute, screen): this class is only
 * the two connections.
 *
 * - **Who is received.** The feeds of devices this device heard a `here` from ({@link want}): a feed's device is what
 *   the relay says (`peer`), and its frames open only under that device's keys, so a feed the relay mislabels decodes
 *   nothing.
 * - **Non-trickle ICE.** The offer to publish goes with every candidate inside, as the mesh's do; so does each answer
 *   to the unit's offers (the first waits for gathering; later ones reuse the same candidates).
 * - **Transforms.** Every transceiver gets its transform before the description that makes it carry media is applied
 *   (`call-mesh.ts` says why); a receiving transceiver the unit gives to another feed gets a new one for that device.
 */
import type { SfuEvent, SfuFeed, SfuSession } from '@securechat/sdk/calls'
import type { TransformOptions } from './call-worker.ts'
import { iceGathered, newPeerConnection, preferCodec } from './rtc.ts'

export interface SfuLinkInit {
  session: SfuSession
  /** The call's encryption worker: every transform goes through it. */
  worker: Worker
  localStream: MediaStream
  /** The track video senders send now (the screen, the camera, or none). */
  video: MediaStreamTrack | undefined
  iceServers: RTCIceServer[]
  /** A remote device's track arrived on (or moved to) the receiving connection. */
  onTrack(peerId: string, track: MediaStreamTrack): void
  /** A device's tracks left the receiving connection (its feed went, or moved to another transceiver). */
  onTrackGone(peerId: string, track: MediaStreamTrack): void
  /** The connections' state changed, or the session ended (`error`, when it ended by failure). */
  onChange(error?: Error): void
}

export class SfuLink {
  readonly #init: SfuLinkInit
  readonly publisher: RTCPeerConnection
  #subscriber: RTCPeerConnection | undefined
  /** Every feed of the call, as the relay says: feed → device. */
  #feeds = new Map<number, string>()
  /** The devices this device receives: heard in the call. */
  #wanted = new Set<string>()
  /** The feeds last asked for, sorted and joined (a new ask only when it changes). */
  #asked = ''
  /** Per receiving transceiver (mid), the device whose frames it carries now. */
  readonly #midPeer = new Map<string, string>()
  #closed = false
  /** The relay's events being handled (never rejects). */
  #handling: Promise<void> = Promise.resolve()

  constructor(init: SfuLinkInit) {
    this.#init = init
    this.publisher = newPeerConnection(init.iceServers)
    this.publisher.onconnectionstatechange = () => init.onChange()
    // One at a time, in order: an offer's answer goes out before the next offer is applied.
    init.session.addEventListener('sfu:event', (event) => {
      this.#handling = this.#handling.then(() => this.#onEvent(event.detail))
    })
    init.session.addEventListener('sfu:closed', (event) => {
      if (this.#closed) return
      init.onChange(event.detail.error)
    })
    void this.#publish()
  }

  /** The receiving connection (its stats carry every other device's media), once the unit offered one. */
  get subscriber(): RTCPeerConnection | undefined {
    return this.#subscriber
  }

  /** The device whose media arrives on the receiving transceiver `mid`. */
  peerOfMid(mid: string | null): string | undefined {
    return mid === null ? undefined : this.#midPeer.get(mid)
  }

  /** The state of the call's media, as a participant's connection shows it: the worse of the two connections. */
  get connectionState(): RTCPeerConnectionState {
    const states = [this.publisher.connectionState, this.#subscriber?.connectionState ?? 'new']
    for (const state of ['failed', 'disconnected', 'closed', 'new', 'connecting'] as const) {
      if (states.includes(state)) return state
    }
    return 'connected'
  }

  /** Receives the devices in `peerIds` (those heard in the call), no others. */
  want(peerIds: Iterable<string>): void {
    this.#wanted = new Set(peerIds)
    this.#ask()
  }

  /** Puts `track` on the `kind` sender (`replaceTrack`: the same sender, so the same transform seals it). */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    const sender = this.publisher.getTransceivers().find((t) => t.receiver.track.kind === kind)?.sender
    await sender?.replaceTrack(track).catch(() => {})
  }

  /** Ends both connections and the session; the tracks they brought leave their participants' streams. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const transceiver of this.#subscriber?.getTransceivers() ?? []) {
      const peer = this.peerOfMid(transceiver.mid)
      if (peer !== undefined) this.#init.onTrackGone(peer, transceiver.receiver.track)
    }
    this.#midPeer.clear()
    this.#init.session.close()
    this.publisher.close()
    this.#subscriber?.close()
  }

  async #publish(): Promise<void> {
    const { localStream, video } = this.#init
    const pc = this.publisher
    const audio = localStream.getAudioTracks()[0]
    const audioT = pc.addTransceiver(audio ?? 'audio', { direction: 'sendonly', streams: [localStream] })
    const videoT = pc.addTransceiver(video ?? 'video', { direction: 'sendonly', streams: [localStream] })
    preferCodec(audioT, 'audio', 'audio/opus')
    preferCodec(videoT, 'video', 'video/VP8')
    for (const transceiver of pc.getTransceivers()) {
      const options: TransformOptions = { role: 'send', kind: kindOf(transceiver) }
      transceiver.sender.transform = new RTCRtpScriptTransform(this.#init.worker, options)
    }
    try {
      await pc.setLocalDescription(await pc.createOffer())
      await iceGathered(pc)
      if (this.#closed) return
      await this.#init.session.request({ op: 'publish', sdp: pc.localDescription!.sdp })
    } catch (err) {
      if (!this.#closed) this.#init.onChange(err instanceof Error ? err : new Error(String(err)))
    }
  }

  async #onEvent(event: Exclude<SfuEvent, { op: 'refused' }>): Promise<void> {
    if (this.#closed) return
    try {
      switch (event.op) {
        case 'feeds':
          this.#feeds = new Map(event.feeds.map((feed: SfuFeed) => [feed.feed, feed.peer]))
          this.#ask()
          return
        case 'published':
          await this.publisher.setRemoteDescription({ type: 'answer', sdp: event.sdp })
          return
        case 'offer':
          await this.#onOffer(event.sdp, event.streams)
          return
      }
    } catch (err) {
      this.#init.onChange(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Asks the unit for the feeds of the wanted devices, when that set changed. */
  #ask(): void {
    const feeds = [...this.#feeds]
      .filter(([, peer]) => this.#wanted.has(peer))
      .map(([feed]) => feed)
      .sort((a, b) => a - b)
    const key = feeds.join(',')
    if (key === this.#asked) return
    this.#asked = key
    void this.#init.session.request({ op: 'subscribe', feeds }).catch(() => {})
  }

  async #onOffer(sdp: string, streams: { mid: string; feed: number }[]): Promise<void> {
    const first = this.#subscriber === undefined
    const pc = this.#subscriber ?? this.#newSubscriber()
    await pc.setRemoteDescription({ type: 'offer', sdp })
    const feedOfMid = new Map(streams.map((stream) => [stream.mid, stream.feed]))
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid
      if (mid === null) continue
      const feed = feedOfMid.get(mid)
      const peer = feed === undefined ? undefined : this.#feeds.get(feed)
      const before = this.#midPeer.get(mid)
      if (peer === before) continue
      if (before !== undefined) this.#init.onTrackGone(before, transceiver.receiver.track)
      if (peer === undefined) {
        this.#midPeer.delete(mid)
        continue
      }
      this.#midPeer.set(mid, peer)
      const options: TransformOptions = { role: 'receive', kind: kindOf(transceiver), peer }
      transceiver.receiver.transform = new RTCRtpScriptTransform(this.#init.worker, options)
      this.#init.onTrack(peer, transceiver.receiver.track)
    }
    await pc.setLocalDescription(await pc.createAnswer())
    if (first) await iceGathered(pc)
    if (this.#closed) return
    await this.#init.session.request({ op: 'answer', sdp: pc.localDescription!.sdp })
    this.#init.onChange()
  }

  #newSubscriber(): RTCPeerConnection {
    const pc = newPeerConnection(this.#init.iceServers)
    pc.onconnectionstatechange = () => this.#init.onChange()
    this.#subscriber = pc
    return pc
  }
}

function kindOf(transceiver: RTCRtpTransceiver): 'audio' | 'video' {
  return transceiver.receiver.track.kind === 'video' ? 'video' : 'audio'
}
