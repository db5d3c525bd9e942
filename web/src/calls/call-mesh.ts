/**
 * One call's media (docs/architecture.md, Calls: media): a mesh of `RTCPeerConnection`s, one per other device in the
 * call, every frame sealed and opened with SFrame in `call-worker.ts`. It knows nothing of rooms or DMs: it is given a
 * {@link CallPort} (send a signal; it is handed the call's signals) and the local media.
 *
 * - **Who offers.** Between two devices, the one whose PeerId string sorts lower sends the offer (no glare); the
 *   other answers. A device that hears a newcomer sends its `here` at once, so the newcomer learns its key and
 *   membership without waiting for the next interval.
 * - **Non-trickle ICE.** An offer or answer is sent once ICE gathering is complete, every candidate inside.
 * - **Codecs.** Opus and VP8 only: `frame-split.ts` knows their payload headers, which stay in the clear.
 * - **Keys.** This device's own random 16-byte key under a random KID, sent in its `here` signals. When a device
 *   leaves (a `leave`, or no `here` for `CALL_HERE_TIMEOUT_MS`), this device makes a new key and KID, tells the others,
 *   and seals with it {@link KEY_SWITCH_DELAY_MS} later — what the one who left never receives. The others' old KIDs
 *   are dropped {@link OLD_KEY_GRACE_MS} after their new one arrived.
 * - **A member removed from the room** (the room's `member:removed`: a ban, a kick, a lock that leaves it out, a token
 *   gate it no longer passes, the owner's new gate included — {@link membersRemoved}): its devices are dropped as on a
 *   leave, and this device makes a new key at once even when none of them was in the call — it could read the keys
 *   sent before, not those sent once the room's sender keys rotated without it.
 * - **Mute and camera.** The tracks stay negotiated: muting disables the microphone track (silence is sent), the
 *   camera off disables the camera track; the `here` signal tells the others, who show it. Turning the camera on in
 *   a call that started without it puts a new track on the video senders (`replaceTrack`, no renegotiation).
 * - **Screen sharing.** The screen's track takes the camera's place on every video sender (`replaceTrack`: the same
 *   sender, so the same SFrame transform seals it); `here` says `screen: true`. Stopping — the button, or the
 *   browser's own stop (the track ends) — puts the camera back (or nothing, in a call without one).
 */
import {
  CALL_HERE_INTERVAL_MS,
  CALL_HERE_TIMEOUT_MS,
  CALL_KEY_BYTES,
  CALL_MAX_KID,
  type CallSignal,
  type CallSignalEvent,
  type CallSignalInput,
  decodeCallKey,
  encodeCallKey,
  type SfuSession,
} from '@securechat/sdk/calls'
import { CALL_WORKER_URL, trustedScriptUrl } from '../trusted-types.ts'
import { SfuLink } from './call-sfu.ts'
import type { TransformOptions, WorkerCommand, WorkerStats } from './call-worker.ts'
import { iceGathered, iceGatheredAgain, newPeerConnection, preferCodec } from './rtc.ts'

/** The first wait before a call reaches its forwarding unit again after a failure; it doubles up to the next. */
export const SFU_RETRY_FIRST_MS = 2_000
export const SFU_RETRY_MAX_MS = 30_000
/** How long after telling a new key this device starts sealing with it: its `here` reaches the others first. */
export const KEY_SWITCH_DELAY_MS = 1_500
/** How long a participant's previous KID still opens frames once its new one arrived (frames in flight). */
export const OLD_KEY_GRACE_MS = 5_000
/** How long an offer waits for its answer, or a connection for ICE, before the offerer tries again. */
export const CONNECT_RETRY_MS = 15_000
/**
 * The least time between two ICE restarts of one connection: a `here` from a peer whose connection is down restarts it
 * (the peer's network came back), and several may come while one restart's answer is on its way.
 */
export const ICE_RESTART_MIN_INTERVAL_MS = 3_000
/**
 * When this device's signalling path came back (a relay connected again), its `here` goes at once and again after
 * these delays: the first may find nobody subscribed yet — the relay checks the device's old connection before its
 * gossip moves to the new one (`STALE_CONNECTION_PING_TIMEOUT_MS`) — and the offerer on the other side, whose restart
 * offer was lost on the dead path, sends it again only when it hears this device.
 */
export const PATH_BACK_HERE_DELAYS_MS = [1_500, 3_000, 6_000]

/** What the mesh needs of the conversation it runs in. */
export interface CallPort {
  /** This device's PeerId. */
  readonly selfPeerId: string
  send(signal: CallSignalInput): Promise<void>
  /**
   * A call connection lost its path (ICE `disconnected` or `failed`): the network may have changed under this device,
   * and the connection its signals go through may be dead too. Resolves once that was checked (and redialled if
   * dead: `RelayPool.check`), so the signals that mend the call go out on a live one.
   */
  checkPath?(): Promise<void>
}

export interface CallMeshInit {
  callId: string
  port: CallPort
  /** The microphone (and camera for a video call), already opened (`local-media.ts`). */
  localStream: MediaStream
  /** ICE servers from the relay's `/config.json`; none: host candidates only. */
  iceServers?: RTCIceServer[]
  /** When the call started as this device knows it (now, for one it starts). */
  startedAtMs?: number
  /**
   * The call's session with its relay's forwarding unit, for a call through one (`call-sfu.ts`): media goes there,
   * not to each device, and every `here` names that relay. `reopen` opens another when it fails or the connections do.
   */
  sfu?: { session: SfuSession; reopen(): Promise<SfuSession> }
}

/** Another device in the call, as this device sees it. */
export interface CallParticipant {
  readonly peerId: string
  /** The wallet of the device. */
  address: string
  media: { audio: boolean; video: boolean; screen: boolean }
  muted: boolean
  /** What arrived from it (audio and video tracks, once the connection carries them). */
  readonly stream: MediaStream
  /** `RTCPeerConnection.connectionState`, or `new` before there is one. */
  connection: RTCPeerConnectionState
  /** Its microphone's level, 0–1, from the connection's stats. */
  audioLevel: number
  lastHeardMs: number
}

interface Peer {
  participant: CallParticipant
  pc: RTCPeerConnection | undefined
  /** KIDs of its keys this device installed, newest last. */
  kids: number[]
  retry: ReturnType<typeof setTimeout> | undefined
  /** When this device last restarted ICE on {@link pc} (offerer), or 0. */
  restartedAtMs: number
  /** The connection whose ICE restart offer this device set (offerer): pending while it is in `have-local-offer`. */
  restarted: RTCPeerConnection | undefined
}

interface LocalKey {
  kid: number
  key: Uint8Array
}

/**
 * A running call's media. Dispatches `mesh:changed` when a participant came, went or changed (media, mute, connection,
 * speaking), and `mesh:ended` once {@link leave} or {@link close} ran.
 */
export class CallMesh extends EventTarget {
  readonly callId: string
  readonly startedAtMs: number
  /** The relay (PeerId) whose forwarding unit this call's media goes through; undefined for a mesh. */
  readonly sfuRelay: string | undefined
  readonly localStream: MediaStream
  readonly #port: CallPort
  readonly #iceServers: RTCIceServer[]
  readonly #worker: Worker
  readonly #peers = new Map<string, Peer>()
  #key: LocalKey
  #muted = false
  #camera: boolean
  /** The screen being shared, in place of the camera on every video sender. */
  #screen: MediaStreamTrack | undefined
  /** {@link #screen} alone in a stream, for this device's own tile. */
  #screenStream: MediaStream | undefined
  #ended = false
  /** Why the last `here` did not go out ({@link signalError}). */
  #signalError: unknown = undefined
  /** This device's microphone level, 0–1. */
  localAudioLevel = 0
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  readonly #interval: ReturnType<typeof setInterval>
  readonly #levels: ReturnType<typeof setInterval>
  #statsId = 0
  /** The forwarding unit's two connections, in a call through one (none while they are being made again). */
  #sfu: SfuLink | undefined
  readonly #reopenSfu: (() => Promise<SfuSession>) | undefined
  /** How long the next attempt to reach the forwarding unit again waits. */
  #sfuBackoffMs = SFU_RETRY_FIRST_MS
  /** Why the call's forwarding unit failed or let this device go ({@link mediaError}). */
  #mediaError: Error | undefined = undefined
  readonly #statsWaiting = new Map<number, (stats: WorkerStats) => void>()

  constructor(init: CallMeshInit) {
    super()
    this.callId = init.callId
    this.#port = init.port
    this.localStream = init.localStream
    this.#iceServers = init.iceServers ?? []
    this.startedAtMs = init.startedAtMs ?? Date.now()
    this.sfuRelay = init.sfu?.session.relay
    this.#camera = init.localStream.getVideoTracks().length > 0
    this.#worker = new Worker(trustedScriptUrl(CALL_WORKER_URL), { name: 'securechat-call' })
    this.#worker.onmessage = (event: MessageEvent<WorkerStats>) => {
      this.#statsWaiting.get(event.data.id)?.(event.data)
      this.#statsWaiting.delete(event.data.id)
    }
    this.#key = newLocalKey()
    this.#command({ type: 'send-key', kid: this.#key.kid, key: this.#key.key })
    this.#interval = setInterval(() => {
      this.#dropSilent()
      void this.#sendHere()
    }, CALL_HERE_INTERVAL_MS)
    this.#levels = setInterval(() => void this.#measureLevels(), 400)
    this.#reopenSfu = init.sfu?.reopen
    if (init.sfu !== undefined) this.#linkSfu(init.sfu.session)
    void this.#sendHere()
  }

  /**
   * Why the call's forwarding unit failed or let this device go (the relay refused it, the stream broke): while set,
   * this device neither sends nor receives media, and the person should know.
   */
  get mediaError(): Error | undefined {
    return this.#mediaError
  }

  get muted(): boolean {
    return this.#muted
  }

  get camera(): boolean {
    return this.#camera
  }

  /** Whether this device is sharing its screen. */
  get sharing(): boolean {
    return this.#screen !== undefined
  }

  /** The shared screen alone in a stream (this device's own tile shows it), while sharing. */
  get screenStream(): MediaStream | undefined {
    return this.#screenStream
  }

  get ended(): boolean {
    return this.#ended
  }

  get participants(): CallParticipant[] {
    return [...this.#peers.values()].map((peer) => peer.participant)
  }

  /** This device's current KID (tests and the debug view: it changes when someone leaves). */
  get kid(): number {
    return this.#key.kid
  }

  /** A call signal of this call from another device (the port's conversation filtered them by call id). */
  handle(event: CallSignalEvent): void {
    if (this.#ended || event.signal.call !== this.callId) return
    const { signal, senderPeerId: from } = event
    if (from === this.#port.selfPeerId) return
    switch (signal.op) {
      case 'here':
        this.#onHere(event, signal)
        return
      case 'leave':
        this.#remove(from, true)
        return
      // Offers and answers are the mesh's: through a forwarding unit, devices never connect to each other.
      case 'offer':
        if (signal.to === this.#port.selfPeerId && this.sfuRelay === undefined) void this.#onOffer(event, signal.sdp)
        return
      case 'answer':
        if (signal.to === this.#port.selfPeerId && this.sfuRelay === undefined) void this.#onAnswer(from, signal.sdp)
        return
    }
  }

  setMuted(muted: boolean): void {
    this.#muted = muted
    for (const track of this.localStream.getAudioTracks()) track.enabled = !muted
    this.#changed()
    void this.#sendHere()
  }

  /** Turns the camera on (opening it if the call started without one: `openCamera`) or off. */
  async setCamera(on: boolean, open?: () => Promise<MediaStreamTrack>): Promise<void> {
    let track = this.localStream.getVideoTracks()[0]
    if (on && track === undefined) {
      if (open === undefined) return
      track = await open()
      this.localStream.addTrack(track)
      // While the screen is shared the senders keep it; the camera comes back on them when sharing stops.
      if (this.#screen === undefined) await this.#replace('video', track)
    }
    if (track !== undefined) track.enabled = on
    this.#camera = on && track !== undefined
    this.#changed()
    void this.#sendHere()
  }

  /**
   * Shares a screen (`open`: `getDisplayMedia`, asked from the click; `undefined`: the person chose none) in the
   * camera's place on every video sender.
   * The browser's own stop ends the track, which stops sharing as {@link stopSharing} does.
   */
  async shareScreen(open: () => Promise<MediaStreamTrack | undefined>): Promise<void> {
    if (this.#screen !== undefined || this.#ended) return
    const track = await open()
    if (track === undefined) return
    if (this.#ended || this.#screen !== undefined) {
      track.stop()
      return
    }
    track.addEventListener('ended', () => void this.stopSharing(track))
    this.#screen = track
    this.#screenStream = new MediaStream([track])
    await this.#replace('video', track)
    this.#changed()
    void this.#sendHere()
  }

  /** Stops sharing the screen (`track`: only if that is still the one shared): the camera goes back on the senders. */
  async stopSharing(track?: MediaStreamTrack): Promise<void> {
    const screen = this.#screen
    if (screen === undefined || (track !== undefined && track !== screen)) return
    this.#screen = undefined
    this.#screenStream = undefined
    screen.stop()
    if (this.#ended) return
    await this.#replace('video', this.localStream.getVideoTracks()[0] ?? null)
    this.#changed()
    void this.#sendHere()
  }

  /**
   * Sends `track`, a microphone the person chose, in place of the one in use: on the same senders (`replaceTrack`, no
   * renegotiation), so the same transforms seal it; muted stays muted. The one it replaces is stopped.
   */
  async switchMicrophone(track: MediaStreamTrack): Promise<void> {
    if (this.#ended) {
      track.stop()
      return
    }
    track.enabled = !this.#muted
    const old = this.localStream.getAudioTracks()[0]
    if (old !== undefined) this.localStream.removeTrack(old)
    this.localStream.addTrack(track)
    await this.#replace('audio', track)
    old?.stop()
    this.#changed()
  }

  /**
   * Sends `track`, a camera the person chose, in place of the one in use (on or off as it was); while a screen is
   * shared the senders keep it, and the new camera comes back on them when sharing stops.
   */
  async switchCamera(track: MediaStreamTrack): Promise<void> {
    if (this.#ended) {
      track.stop()
      return
    }
    const old = this.localStream.getVideoTracks()[0]
    if (old === undefined) {
      // No camera in this call yet: `setCamera` opens one (the chosen one) when it is turned on.
      track.stop()
      return
    }
    track.enabled = old.enabled
    this.localStream.removeTrack(old)
    this.localStream.addTrack(track)
    if (this.#screen === undefined) await this.#replace('video', track)
    old.stop()
    this.#changed()
  }

  /** The track every video sender sends: the shared screen, else the camera (disabled while off), else none. */
  #outgoingVideo(): MediaStreamTrack | undefined {
    return this.#screen ?? this.localStream.getVideoTracks()[0]
  }

  /** Puts `track` on every `kind` sender: the forwarding unit's and each peer's. */
  async #replace(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    await this.#sfu?.replaceTrack(kind, track)
    for (const peer of this.#peers.values()) {
      const sender = senderOf(peer.pc, kind)
      if (sender !== undefined) await sender.replaceTrack(track).catch(() => {})
    }
  }

  /**
   * Members were removed from the conversation (`gone` says which wallets): their devices' connections close and their
   * keys go, and this device starts a new key at once, whether or not any of them was in the call.
   */
  membersRemoved(gone: (address: string) => boolean): void {
    if (this.#ended) return
    for (const [peerId, peer] of this.#peers) {
      if (!gone(peer.participant.address)) continue
      this.#peers.delete(peerId)
      this.#closePeer(peer)
    }
    this.#sfu?.want(this.#peers.keys())
    this.#rotateKey()
    this.#changed()
  }

  /** Frame counts of the encryption worker (sealed, and per peer opened and dropped). */
  workerStats(): Promise<WorkerStats> {
    const id = ++this.#statsId
    return new Promise((resolve) => {
      this.#statsWaiting.set(id, resolve)
      this.#command({ type: 'stats', id })
    })
  }

  /**
   * The connection `peerId`'s media arrives on, for its stats: its own in a mesh, the forwarding unit's receiving one
   * (shared by all) otherwise — {@link peerOfMid} tells its streams apart.
   */
  connectionOf(peerId: string): RTCPeerConnection | undefined {
    const peer = this.#peers.get(peerId)
    if (peer === undefined) return undefined
    return this.sfuRelay === undefined ? peer.pc : this.#sfu?.subscriber
  }

  /** Through a forwarding unit: the device whose media arrives on the receiving transceiver `mid`. */
  peerOfMid(mid: string | null): string | undefined {
    return this.#sfu?.peerOfMid(mid)
  }

  /** Through a forwarding unit: the connection this device's media goes out on (its stats). */
  get publisher(): RTCPeerConnection | undefined {
    return this.#sfu?.publisher
  }

  /**
   * This device's signalling path came back or changed (a relay connected again, the browser's network changed): its
   * `here` goes at once, so that a device whose connection to this one lost its path hears it is reachable (the
   * offerer then restarts ICE), and this device restarts ICE on its own connections that lost theirs.
   */
  networkChanged(): void {
    if (this.#ended || this.sfuRelay !== undefined) return
    const mend = (): void => {
      void this.#sendHere()
      for (const peer of this.#peers.values()) {
        if (this.#offersTo(peer.participant.peerId) && needsRestart(peer)) void this.#restartIce(peer)
      }
    }
    const unmended = [...this.#peers.values()].some(needsRestart)
    mend()
    if (unmended) for (const delay of PATH_BACK_HERE_DELAYS_MS) this.#later(mend, delay)
  }

  /** Tells the others this device left, then stops everything. */
  async leave(): Promise<void> {
    if (this.#ended) return
    const told = this.#port.send({ op: 'leave', call: this.callId }).catch(() => {})
    this.close()
    await told
  }

  /** Stops the media, the connections and the worker without telling anyone (the page is going away). */
  close(): void {
    if (this.#ended) return
    this.#ended = true
    clearInterval(this.#interval)
    clearInterval(this.#levels)
    for (const timer of this.#timers) clearTimeout(timer)
    for (const peer of this.#peers.values()) this.#closePeer(peer)
    this.#peers.clear()
    this.#sfu?.close()
    for (const track of this.localStream.getTracks()) track.stop()
    this.#screen?.stop()
    this.#screen = undefined
    this.#screenStream = undefined
    this.#worker.terminate()
    this.dispatchEvent(new Event('mesh:ended'))
  }

  #onHere(event: CallSignalEvent, signal: Extract<CallSignal, { op: 'here' }>): void {
    const from = event.senderPeerId
    let peer = this.#peers.get(from)
    const isNew = peer === undefined
    if (peer === undefined) {
      peer = this.#newPeer(from, event.sender)
    }
    const { participant } = peer
    participant.media = signal.media
    participant.muted = signal.muted
    participant.lastHeardMs = Date.now()
    this.#installKey(peer, signal.key.kid, signal.key.key)
    if (isNew) {
      // The newcomer learns this device's key and presence now, not at the next interval.
      void this.#sendHere()
      if (this.sfuRelay !== undefined) {
        participant.connection = this.#sfu?.connectionState ?? 'connecting'
        this.#sfu?.want(this.#peers.keys())
      } else if (this.#offersTo(from)) void this.#offer(peer)
    } else if (this.sfuRelay === undefined && this.#offersTo(from) && needsRestart(peer)) {
      // Its `here` came through, its media does not (or this device's restart offer got no answer): its network (or
      // this one) changed and is back.
      void this.#restartIce(peer)
    }
    this.#changed()
  }

  #newPeer(peerId: string, address: string): Peer {
    const peer: Peer = {
      participant: {
        peerId,
        address,
        media: { audio: true, video: false, screen: false },
        muted: false,
        stream: new MediaStream(),
        connection: 'new',
        audioLevel: 0,
        lastHeardMs: Date.now(),
      },
      pc: undefined,
      kids: [],
      retry: undefined,
      restartedAtMs: 0,
      restarted: undefined,
    }
    this.#peers.set(peerId, peer)
    return peer
  }

  #installKey(peer: Peer, kid: number, keyText: string): void {
    if (peer.kids.includes(kid)) return
    const peerId = peer.participant.peerId
    this.#command({ type: 'add-key', peer: peerId, kid, key: decodeCallKey(keyText) })
    const previous = [...peer.kids]
    peer.kids.push(kid)
    if (previous.length === 0) return
    this.#later(() => {
      for (const old of previous) {
        this.#command({ type: 'remove-key', peer: peerId, kid: old })
        peer.kids = peer.kids.filter((k) => k !== old)
      }
    }, OLD_KEY_GRACE_MS)
  }

  #offersTo(peerId: string): boolean {
    return this.#port.selfPeerId < peerId
  }

  #connection(peer: Peer): RTCPeerConnection {
    if (peer.pc !== undefined) this.#closePeer(peer, false)
    const pc = newPeerConnection(this.#iceServers)
    peer.pc = pc
    const participant = peer.participant
    for (const track of participant.stream.getTracks()) participant.stream.removeTrack(track)
    pc.ontrack = (event) => {
      participant.stream.addTrack(event.track)
      this.#changed()
    }
    pc.onconnectionstatechange = () => {
      if (peer.pc !== pc) return
      participant.connection = pc.connectionState
      if (pc.connectionState === 'connected' && peer.retry !== undefined) {
        clearTimeout(peer.retry)
        peer.retry = undefined
      }
      if (pc.connectionState === 'disconnected' || pc.connectionState === 'failed') void this.#pathLost(peer, pc)
      this.#changed()
    }
    return pc
  }

  /**
   * Every sender's and receiver's SFrame transform, set once, as soon as their transceivers exist and before any
   * remote description is applied. Chromium (156) lets frames bypass a transform set later: on a receiver set from
   * `ontrack` once the answer arrived, on a video sender that the remote offer created (checked by hand: frames then
   * reach the decoder, or the wire, without passing the worker).
   */
  #attachTransforms(pc: RTCPeerConnection, peerId: string): void {
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind === 'video' ? 'video' : 'audio'
      const send: TransformOptions = { role: 'send', kind }
      const receive: TransformOptions = { role: 'receive', kind, peer: peerId }
      transceiver.sender.transform = new RTCRtpScriptTransform(this.#worker, send)
      transceiver.receiver.transform = new RTCRtpScriptTransform(this.#worker, receive)
    }
  }

  async #offer(peer: Peer): Promise<void> {
    const pc = this.#connection(peer)
    const peerId = peer.participant.peerId
    const audio = this.localStream.getAudioTracks()[0]
    const video = this.#outgoingVideo()
    const audioT = pc.addTransceiver(audio ?? 'audio', { direction: 'sendrecv', streams: [this.localStream] })
    const videoT = pc.addTransceiver(video ?? 'video', { direction: 'sendrecv', streams: [this.localStream] })
    preferCodec(audioT, 'audio', 'audio/opus')
    preferCodec(videoT, 'video', 'video/VP8')
    this.#attachTransforms(pc, peerId)
    this.#scheduleRetry(peer, pc)
    try {
      await pc.setLocalDescription(await pc.createOffer())
      await iceGathered(pc)
      if (peer.pc !== pc || this.#ended) return
      await this.#port.send({ op: 'offer', call: this.callId, to: peerId, sdp: pc.localDescription!.sdp })
    } catch {
      // The retry timer offers again.
    }
  }

  /**
   * `pc` lost its path (ICE `disconnected`: no answer to its checks for a few seconds; or `failed`) — a network change
   * here or there, most often. This device has its signalling path checked first (`CallPort.checkPath`: the relay
   * connection may have died with the same change, and a signal sent on it goes nowhere); then it sends its `here` at
   * once, so that the other side, whose offer or restart waits on it, hears it is reachable; and the offerer restarts
   * ICE: a new offer on the same connection (new ICE credentials, the candidates of this device's addresses now),
   * keeping its transceivers and their SFrame transforms. If that does not connect within {@link CONNECT_RETRY_MS}
   * the connection is made again ({@link #scheduleRetry}).
   */
  async #pathLost(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    await this.#port.checkPath?.().catch(() => {})
    if (this.#ended || peer.pc !== pc || !isDown(pc)) return
    void this.#sendHere()
    if (this.#offersTo(peer.participant.peerId)) await this.#restartIce(peer)
  }

  /** An ICE restart of `peer`'s connection (this device offers): see {@link #pathLost}. */
  async #restartIce(peer: Peer): Promise<void> {
    const pc = peer.pc
    if (pc === undefined || this.#ended) return
    if (Date.now() - peer.restartedAtMs < ICE_RESTART_MIN_INTERVAL_MS) return
    const peerId = peer.participant.peerId
    peer.restartedAtMs = Date.now()
    // A signal that could not go (the relay connection just came back, nobody subscribed yet) is tried again soon.
    const again = (): void =>
      this.#later(() => {
        if (peer.pc === pc && needsRestart(peer)) void this.#restartIce(peer)
      }, ICE_RESTART_MIN_INTERVAL_MS)
    if (pc.signalingState === 'have-local-offer' && pc.localDescription !== null) {
      // Its offer (or the answer) may have been lost on the way (sent on a relay connection that was dead): again.
      const sdp = pc.localDescription.sdp
      await this.#port.send({ op: 'offer', call: this.callId, to: peerId, sdp }).catch(again)
      return
    }
    if (pc.signalingState !== 'stable') return
    this.#scheduleRetry(peer, pc)
    try {
      pc.restartIce()
      const offer = await pc.createOffer({ iceRestart: true })
      const gathered = iceGatheredAgain(pc)
      await pc.setLocalDescription(offer)
      peer.restarted = pc
      await gathered
    } catch {
      return // The retry timer makes the connection again.
    }
    if (peer.pc !== pc || this.#ended) return
    await this.#port.send({ op: 'offer', call: this.callId, to: peerId, sdp: pc.localDescription!.sdp }).catch(again)
  }

  #scheduleRetry(peer: Peer, pc: RTCPeerConnection): void {
    if (peer.retry !== undefined) clearTimeout(peer.retry)
    if (!this.#offersTo(peer.participant.peerId)) return
    peer.retry = setTimeout(() => {
      peer.retry = undefined
      if (this.#ended || peer.pc !== pc || this.#peers.get(peer.participant.peerId) !== peer) return
      // Not connected, or its offer still unanswered (ICE may find a path again by itself, one way only).
      if (pc.connectionState !== 'connected' || pc.signalingState !== 'stable') void this.#offer(peer)
    }, CONNECT_RETRY_MS)
  }

  async #onOffer(event: CallSignalEvent, sdp: string): Promise<void> {
    const from = event.senderPeerId
    // An offer from a higher PeerId breaks the rule: ignored (this device offers to it).
    if (this.#offersTo(from)) return
    const peer = this.#peers.get(from) ?? this.#newPeer(from, event.sender)
    if (peer.pc !== undefined && sameOfferer(peer.pc, sdp)) {
      await this.#onRestart(peer, peer.pc, sdp)
      return
    }
    const pc = this.#connection(peer)
    try {
      // The answer's transceivers exist, with their transforms, before the offer is applied (`#attachTransforms`):
      // tracks added with addTrack are what an offer's sections take up (JSEP). A call without a camera lends a blank
      // placeholder track for the video one, dropped once the offer took it up.
      const audio = this.localStream.getAudioTracks()[0]
      const video = this.#outgoingVideo()
      const placeholder = video === undefined ? blankVideoTrack() : undefined
      if (audio !== undefined) pc.addTrack(audio, this.localStream)
      const videoTrack = video ?? placeholder
      const videoSent = videoTrack === undefined ? undefined : pc.addTrack(videoTrack, this.localStream)
      this.#attachTransforms(pc, from)
      await pc.setRemoteDescription({ type: 'offer', sdp })
      if (placeholder !== undefined) {
        await videoSent?.replaceTrack(null)
        placeholder.stop()
      }
      for (const transceiver of pc.getTransceivers()) transceiver.direction = 'sendrecv'
      await pc.setLocalDescription(await pc.createAnswer())
      await iceGathered(pc)
      if (peer.pc !== pc || this.#ended) return
      await this.#port.send({ op: 'answer', call: this.callId, to: from, sdp: pc.localDescription!.sdp })
    } catch {
      // The offerer tries again.
    }
    this.#changed()
  }

  /**
   * An offer from the connection this device already has with `peer` (its DTLS certificate's fingerprint is the one
   * the connection knows): an ICE restart ({@link #restartIce}), answered on the same connection, its transceivers
   * and transforms kept.
   */
  async #onRestart(peer: Peer, pc: RTCPeerConnection, sdp: string): Promise<void> {
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp })
      const answer = await pc.createAnswer()
      const gathered = iceGatheredAgain(pc)
      await pc.setLocalDescription(answer)
      await gathered
      if (peer.pc !== pc || this.#ended) return
      const to = peer.participant.peerId
      await this.#port.send({ op: 'answer', call: this.callId, to, sdp: pc.localDescription!.sdp })
    } catch {
      // The offerer tries again.
    }
  }

  async #onAnswer(from: string, sdp: string): Promise<void> {
    const pc = this.#peers.get(from)?.pc
    if (pc === undefined || pc.signalingState !== 'have-local-offer') return
    await pc.setRemoteDescription({ type: 'answer', sdp }).catch(() => {})
  }

  /** A device left (`told`: it said so) or went silent: its connection closes, this device's key rotates. */
  #remove(peerId: string, _told: boolean): void {
    const peer = this.#peers.get(peerId)
    if (peer === undefined) return
    this.#peers.delete(peerId)
    this.#closePeer(peer)
    this.#sfu?.want(this.#peers.keys())
    this.#rotateKey()
    this.#changed()
  }

  #linkSfu(session: SfuSession): void {
    const link: SfuLink = new SfuLink({
      session,
      worker: this.#worker,
      localStream: this.localStream,
      video: this.#outgoingVideo(),
      iceServers: this.#iceServers,
      onTrack: (peerId, track) => this.#peers.get(peerId)?.participant.stream.addTrack(track),
      onTrackGone: (peerId, track) => this.#peers.get(peerId)?.participant.stream.removeTrack(track),
      onChange: (error) => this.#onSfuChange(link, error),
    })
    this.#sfu = link
    link.want(this.#peers.keys())
  }

  /**
   * The forwarding unit's connections changed, or its session ended (`error`: it broke or the relay refused). A
   * failure — the session's, or a connection's (a network change) — makes both again on a new session, after
   * {@link SFU_RETRY_FIRST_MS}, doubling to {@link SFU_RETRY_MAX_MS} while they keep failing; meanwhile
   * {@link mediaError} says why.
   */
  #onSfuChange(link: SfuLink, error: Error | undefined): void {
    if (this.#ended || this.#sfu !== link) return
    const state = link.connectionState
    if (error !== undefined || state === 'failed') {
      this.#mediaError = error ?? new Error('the connection to the relay’s forwarding unit failed; reconnecting')
      this.#relinkSfu()
    } else if (state === 'connected') {
      this.#mediaError = undefined
      this.#sfuBackoffMs = SFU_RETRY_FIRST_MS
    }
    for (const peer of this.#peers.values()) peer.participant.connection = this.#sfu?.connectionState ?? 'connecting'
    this.#changed()
  }

  #relinkSfu(): void {
    this.#sfu?.close()
    this.#sfu = undefined
    const reopen = this.#reopenSfu
    if (reopen === undefined) return
    const wait = this.#sfuBackoffMs
    this.#sfuBackoffMs = Math.min(wait * 2, SFU_RETRY_MAX_MS)
    this.#later(() => {
      reopen().then(
        (session) => {
          if (this.#ended) session.close()
          else this.#linkSfu(session)
        },
        (err: unknown) => {
          this.#mediaError = err instanceof Error ? err : new Error(String(err))
          this.#relinkSfu()
          this.#changed()
        },
      )
    }, wait)
  }

  #dropSilent(): void {
    const cutoff = Date.now() - CALL_HERE_TIMEOUT_MS
    for (const [peerId, peer] of this.#peers) {
      if (peer.participant.lastHeardMs < cutoff) this.#remove(peerId, false)
    }
  }

  /** A new key and KID: told at once, sealed with a little later (see the module comment). */
  #rotateKey(): void {
    const next = newLocalKey()
    this.#key = next
    void this.#sendHere()
    this.#later(() => {
      if (this.#key === next) this.#command({ type: 'send-key', kid: next.kid, key: next.key })
    }, KEY_SWITCH_DELAY_MS)
  }

  #closePeer(peer: Peer, forget = true): void {
    if (peer.retry !== undefined) clearTimeout(peer.retry)
    peer.retry = undefined
    peer.pc?.close()
    peer.pc = undefined
    peer.participant.connection = 'closed'
    if (forget) this.#command({ type: 'forget-peer', peer: peer.participant.peerId })
  }

  async #sendHere(): Promise<void> {
    if (this.#ended) return
    await this.#port
      .send({
        op: 'here',
        call: this.callId,
        media: {
          audio: this.localStream.getAudioTracks().length > 0,
          video: this.#camera,
          screen: this.#screen !== undefined,
        },
        muted: this.#muted,
        key: { kid: this.#key.kid, key: encodeCallKey(this.#key.key) },
        startedAtMs: this.startedAtMs,
        ...(this.sfuRelay === undefined ? {} : { sfu: this.sfuRelay }),
      })
      .then(
        () => this.#setSignalError(undefined),
        // Not sendable now (offline, no DM session, muted): the next interval tries again; the app says why meanwhile.
        (err: unknown) => this.#setSignalError(err),
      )
  }

  /**
   * Why this device's `here` could not go out, the last time it was sent (undefined once it went): while it cannot,
   * nobody learns of the call or its key, and the person should know.
   */
  get signalError(): unknown {
    return this.#signalError
  }

  #setSignalError(err: unknown): void {
    if (err === undefined && this.#signalError === undefined) return
    this.#signalError = err
    this.#changed()
  }

  async #measureLevels(): Promise<void> {
    if (this.#sfu !== undefined) return this.#measureSfuLevels(this.#sfu)
    let local = 0
    for (const peer of this.#peers.values()) {
      const pc = peer.pc
      if (pc === undefined || pc.connectionState !== 'connected') continue
      const stats = await pc.getStats().catch(() => undefined)
      let level = 0
      stats?.forEach((report: { type: string; kind?: string; audioLevel?: number }) => {
        if (report.type === 'inbound-rtp' && report.kind === 'audio') level = report.audioLevel ?? 0
        if (report.type === 'media-source' && report.kind === 'audio') local = Math.max(local, report.audioLevel ?? 0)
      })
      peer.participant.audioLevel = peer.participant.muted ? 0 : level
    }
    this.localAudioLevel = this.#muted ? 0 : local
    if (!this.#ended) this.#changed()
  }

  /** {@link #measureLevels} through a forwarding unit: one receiving connection, its audio streams told apart by mid. */
  async #measureSfuLevels(sfu: SfuLink): Promise<void> {
    const levels = new Map<string, number>()
    let local = 0
    const [received, sent] = await Promise.all([
      sfu.subscriber?.getStats().catch(() => undefined),
      sfu.publisher.getStats().catch(() => undefined),
    ])
    received?.forEach((report: { type: string; kind?: string; mid?: string; audioLevel?: number }) => {
      if (report.type !== 'inbound-rtp' || report.kind !== 'audio') return
      const peerId = sfu.peerOfMid(report.mid ?? null)
      if (peerId !== undefined) levels.set(peerId, report.audioLevel ?? 0)
    })
    sent?.forEach((report: { type: string; kind?: string; audioLevel?: number }) => {
      if (report.type === 'media-source' && report.kind === 'audio') local = Math.max(local, report.audioLevel ?? 0)
    })
    for (const [peerId, peer] of this.#peers) {
      peer.participant.audioLevel = peer.participant.muted ? 0 : (levels.get(peerId) ?? 0)
    }
    this.localAudioLevel = this.#muted ? 0 : local
    if (!this.#ended) this.#changed()
  }

  #command(command: WorkerCommand): void {
    this.#worker.postMessage(command)
  }

  #later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (!this.#ended) run()
    }, ms)
    this.#timers.add(timer)
  }

  #changed(): void {
    this.dispatchEvent(new Event('mesh:changed'))
  }
}

function newLocalKey(): LocalKey {
  const key = crypto.getRandomValues(new Uint8Array(CALL_KEY_BYTES))
  const random = crypto.getRandomValues(new Uint32Array(2))
  // 48 random bits: below CALL_MAX_KID, an exact JSON number.
  const kid = ((random[0]! & 0xffff) * 2 ** 32 + random[1]!) % CALL_MAX_KID
  return { kid, key }
}

/** A video track with no picture: a 2×2 canvas that never draws. */
function blankVideoTrack(): MediaStreamTrack | undefined {
  const canvas = document.createElement('canvas')
  canvas.width = 2
  canvas.height = 2
  return canvas.captureStream(0).getVideoTracks()[0]
}

/**
 * Whether `peer`'s connection needs (this device, its offerer, to send again) an ICE restart: its path is lost, or the
 * restart offer this device set is still unanswered — Chromium's ICE may find a path from a new address by itself
 * (its candidates gathered anew) and call the connection `connected` while only one way works, and the restart's
 * answer is what tells the other side where to send.
 */
function needsRestart(peer: Peer): boolean {
  const pc = peer.pc
  return isDown(pc) || (pc !== undefined && peer.restarted === pc && pc.signalingState === 'have-local-offer')
}

/** Whether `pc` is open but without a working path (ICE lost it). */
function isDown(pc: RTCPeerConnection | undefined): boolean {
  return pc !== undefined && (pc.connectionState === 'disconnected' || pc.connectionState === 'failed')
}

/** The `a=fingerprint` lines of an SDP: the DTLS certificate of the connection that wrote it. */
function fingerprints(sdp: string | undefined): string {
  return (sdp ?? '')
    .split(/\r?\n/)
    .filter((line) => line.startsWith('a=fingerprint:'))
    .sort()
    .join('\n')
}

/**
 * Whether `offer` comes from the connection `pc` already talks to (the same certificate): a restart or renegotiation
 * of it, not a connection made again (each `RTCPeerConnection` has a certificate of its own).
 */
function sameOfferer(pc: RTCPeerConnection, offer: string): boolean {
  if (pc.connectionState === 'closed' || pc.signalingState !== 'stable') return false
  const known = fingerprints(pc.remoteDescription?.sdp)
  return known !== '' && known === fingerprints(offer)
}

function senderOf(pc: RTCPeerConnection | undefined, kind: 'audio' | 'video'): RTCRtpSender | undefined {
  return pc?.getTransceivers().find((t) => t.receiver.track.kind === kind)?.sender
}
