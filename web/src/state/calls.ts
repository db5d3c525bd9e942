import {
  CALL_HERE_TIMEOUT_MS,
  type CallSignalEvent,
  type CallSignalInput,
  findSfuRelay,
  newCallId,
  openSfuSession,
  type SfuSession,
} from '@securechat/sdk/calls'
import type { SecureChatClient } from '@securechat/sdk/client'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMemberRemoved } from '@securechat/sdk/types'
import { CallMesh, type CallPort } from '../calls/call-mesh.ts'
import {
  listMediaDevices,
  MediaAccessError,
  type MediaDeviceChoice,
  openCamera,
  openLocalMedia,
  openMicrophone,
  openScreen,
} from '../calls/local-media.ts'
import type { AppConfig } from '../config.ts'
import { removedWallet } from './call-removals.ts'
import type { Conversations } from './conversations.ts'
import { describeError } from './errors.ts'
import type { Notifications } from './notifications.ts'
import { RingLimit } from './ring-limit.ts'
import type { SessionPart, SignedIn } from './session.ts'

/** A call others are in, as their `here` signals tell it: the ongoing-call line of a conversation. */
export interface OngoingCall {
  conversation: string
  callId: string
  startedAtMs: number
  video: boolean
  /** The devices heard in it, by PeerId: their wallet and when last heard. */
  devices: Map<string, { address: string; lastHeardMs: number }>
  /** The relay whose forwarding unit the call goes through (its `here` signals say), for a call through one. */
  sfu?: string | undefined
}

/** The call this tab is in. */
export interface ActiveCall {
  conversation: string
  callId: string
  mesh: CallMesh
}

/** A `here` older than this by its sender's clock rings nobody (a call heard long after it started ringing). */
const RING_WITHIN_MS = 30_000
/**
 * A `here` older than this by its sender's clock is from a call long over: one that opened a DM session rides an
 * initial message, which relays keep, and a device back after days reads it then. Minutes, not `CALL_HERE_TIMEOUT_MS`,
 * so that two devices' clocks a little apart still hear each other.
 */
const STALE_HERE_MS = 10 * 60_000

/**
 * Voice and video calls (docs/web-app.md, Calls): which conversations have a call going on (from the others' `here`
 * signals), the one call this tab is in (a {@link CallMesh}), starting, joining and leaving it, and the ring — a
 * browser notification through {@link Notifications} when someone starts a call. Dispatches `calls:changed`.
 */
export class Calls extends EventTarget implements SessionPart {
  readonly #config: AppConfig
  readonly #conversations: Conversations
  readonly #notifications: Notifications
  #client: SecureChatClient | undefined
  #me: string | undefined
  #active: ActiveCall | undefined
  /** Per conversation, the calls others are in. */
  readonly #ongoing = new Map<string, Map<string, OngoingCall>>()
  /** Which calls ring: each once, each wallet at most once a minute. */
  readonly #rings = new RingLimit()
  readonly #watched = new WeakSet<Room>()
  readonly #detach: Array<() => void> = []
  #sweep: ReturnType<typeof setInterval> | undefined
  /**
   * Why the last start or join failed (a refused camera …), or what is wrong with the call now (`fromCall`: its
   * signals cannot go out, its forwarding unit failed), for the conversation it was in.
   */
  problem: { conversation: string; text: string; fromCall?: boolean } | undefined
  /** A start or join waiting for the camera and microphone. */
  starting: string | undefined
  /**
   * The microphone and camera the person chose during a call (browser device ids), for the rest of this tab's
   * session: the next call, and a camera turned on later, open them first.
   */
  readonly #chosen: { microphone?: string; camera?: string } = {}

  constructor(config: AppConfig, conversations: Conversations, notifications: Notifications) {
    super()
    this.#config = config
    this.#conversations = conversations
    this.#notifications = notifications
    conversations.addEventListener('conversations:changed', () => this.#watchRooms())
  }

  get active(): ActiveCall | undefined {
    return this.#active
  }

  async open(signedIn: SignedIn): Promise<void> {
    this.#me = signedIn.address.toLowerCase()
  }

  async connected(client: SecureChatClient): Promise<void> {
    this.#client = client
    const onSignal = (event: CustomEvent<CallSignalEvent>): void => {
      const { signal, sender, sentAtMs } = event.detail
      // A call from a wallet never written to opens its DM, as a first message would: there it rings and can be joined.
      if (signal.op === 'here' && sender.toLowerCase() !== this.#me && sentAtMs >= Date.now() - RING_WITHIN_MS) {
        this.#conversations.openDm(event.detail.conversation)
      }
      this.#onSignal(event.detail)
    }
    client.dms.addEventListener('call:signal', onSignal)
    this.#detach.push(() => client.dms.removeEventListener('call:signal', onSignal))
    this.#watchRooms()
    // A relay connected again (after one died, or a check closed a dead one): the call's signals go again at once.
    const onRelay = (): void => this.#active?.mesh.networkChanged()
    client.relays.addEventListener('relay:connected', onRelay)
    this.#detach.push(() => client.relays.removeEventListener('relay:connected', onRelay))
    this.#sweep = setInterval(() => this.#expire(), 5_000)
    const onPageHide = (): void => void this.leave()
    addEventListener('pagehide', onPageHide)
    this.#detach.push(() => removeEventListener('pagehide', onPageHide))
  }

  close(): void {
    for (const detach of this.#detach.splice(0)) detach()
    if (this.#sweep !== undefined) clearInterval(this.#sweep)
    this.#sweep = undefined
    void this.leave()
    this.#client = undefined
    this.#me = undefined
    this.#ongoing.clear()
    this.#rings.clear()
    this.problem = undefined
    this.#changed()
  }

  /** The call going on in `conversation` that this tab is not in, if any (the most recently heard). */
  ongoingIn(conversation: string): OngoingCall | undefined {
    const calls = [...(this.#ongoing.get(conversation)?.values() ?? [])].filter(
      (call) => call.callId !== this.#active?.callId,
    )
    return calls.sort((a, b) => newest(b) - newest(a))[0]
  }

  /**
   * Starts a new call in `conversation` (from the click: the browser asks for the camera and microphone now). A room
   * call goes through a forwarding unit when a relay this device is connected to runs one (its operator chose to:
   * `securechat relay --sfu`); a DM call, and a room call without one, is a mesh.
   */
  async start(conversation: string, video: boolean): Promise<void> {
    const client = this.#client
    const sfu =
      client !== undefined && this.#conversations.get(conversation)?.kind === 'room'
        ? await findSfuRelay(client.libp2p, client.relays.connected())
        : undefined
    await this.#enter(conversation, newCallId(), video, Date.now(), sfu)
  }

  /**
   * Joins the call `callId` going on in `conversation` (through the forwarding unit its `here` signals name, if any).
   * Only a call this tab has heard: how to reach one (a mesh, or which relay's unit) is what its `here` signals say,
   * and a guess would sit offering to a call that is not there.
   */
  async join(conversation: string, callId: string, video: boolean): Promise<void> {
    const ongoing = this.#ongoing.get(conversation)?.get(callId)
    if (ongoing === undefined) {
      this.problem = {
        conversation,
        text: 'This call is not going on here any more (or was never heard here): start a new one to talk.',
      }
      this.#changed()
      return
    }
    await this.#enter(conversation, callId, video, ongoing.startedAtMs, ongoing.sfu)
  }

  async leave(): Promise<void> {
    const active = this.#active
    if (active === undefined) return
    this.#active = undefined
    this.#changed()
    await active.mesh.leave()
  }

  setMuted(muted: boolean): void {
    this.#active?.mesh.setMuted(muted)
  }

  async setCamera(on: boolean): Promise<void> {
    const active = this.#active
    if (active === undefined) return
    try {
      await active.mesh.setCamera(on, () => openCamera(this.#chosen.camera))
      this.problem = undefined
    } catch (err) {
      this.problem = { conversation: active.conversation, text: describeMediaError(err) }
    }
    this.#changed()
  }

  /**
   * The microphones and cameras to choose from, and those the call uses now (their ids; a camera only while the call
   * has one). Names come once the browser let the site use its devices, as it has in a call.
   */
  async mediaDevices(): Promise<{
    microphones: MediaDeviceChoice[]
    cameras: MediaDeviceChoice[]
    microphone: string | undefined
    camera: string | undefined
  }> {
    const { microphones, cameras } = await listMediaDevices()
    const stream = this.#active?.mesh.localStream
    return {
      microphones,
      cameras,
      microphone: stream?.getAudioTracks()[0]?.getSettings().deviceId,
      camera: stream?.getVideoTracks()[0]?.getSettings().deviceId,
    }
  }

  /** Speaks into the microphone `deviceId` from now on, in this call (the others hear it at once) and the next. */
  async chooseMicrophone(deviceId: string): Promise<void> {
    this.#chosen.microphone = deviceId
    const active = this.#active
    if (active === undefined) return
    try {
      await active.mesh.switchMicrophone(await openMicrophone(deviceId))
      this.problem = undefined
    } catch (err) {
      this.problem = { conversation: active.conversation, text: describeMediaError(err) }
    }
    this.#changed()
  }

  /** Films with the camera `deviceId` from now on: at once while the call has a camera, else when it is turned on. */
  async chooseCamera(deviceId: string): Promise<void> {
    this.#chosen.camera = deviceId
    const active = this.#active
    if (active === undefined || active.mesh.localStream.getVideoTracks().length === 0) return
    try {
      await active.mesh.switchCamera(await openCamera(deviceId, true))
      this.problem = undefined
    } catch (err) {
      this.problem = { conversation: active.conversation, text: describeMediaError(err) }
    }
    this.#changed()
  }

  /** Shares a screen in the camera's place (from the click: the browser's picker opens now), or stops sharing. */
  async setSharing(on: boolean): Promise<void> {
    const active = this.#active
    if (active === undefined) return
    try {
      if (on) await active.mesh.shareScreen(openScreen)
      else await active.mesh.stopSharing()
      this.problem = undefined
    } catch (err) {
      this.problem = { conversation: active.conversation, text: describeMediaError(err) }
    }
    this.#changed()
  }

  async #enter(
    conversation: string,
    callId: string,
    video: boolean,
    startedAtMs: number,
    sfuRelay: string | undefined,
  ): Promise<void> {
    if (this.starting !== undefined) return
    const port = this.#port(conversation)
    if (port === undefined) {
      this.problem = { conversation, text: 'This conversation cannot carry a call until it is joined and connected.' }
      this.#changed()
      return
    }
    this.problem = undefined
    this.starting = conversation
    this.#changed()
    let localStream: MediaStream
    try {
      localStream = await openLocalMedia({ video, ...this.#chosen })
    } catch (err) {
      this.problem = { conversation, text: describeMediaError(err) }
      this.starting = undefined
      this.#changed()
      return
    }
    await this.leave()
    let sfu: SfuSession | undefined
    if (sfuRelay !== undefined) {
      try {
        sfu = await this.#openSfu(conversation, callId, sfuRelay)
      } catch (err) {
        for (const track of localStream.getTracks()) track.stop()
        this.problem = { conversation, text: describeError(err) }
        this.starting = undefined
        this.#changed()
        return
      }
    }
    const mesh = new CallMesh({
      callId,
      port,
      localStream,
      iceServers: (this.#config.iceServers ?? []) as RTCIceServer[],
      startedAtMs,
      ...(sfu === undefined || sfuRelay === undefined
        ? {}
        : { sfu: { session: sfu, reopen: () => this.#openSfu(conversation, callId, sfuRelay) } }),
    })
    mesh.addEventListener('mesh:changed', () => this.#onMeshChanged(conversation, mesh))
    this.#active = { conversation, callId, mesh }
    this.starting = undefined
    this.#changed()
  }

  /** A session with `relay`'s forwarding unit for the room call `callId` (the relay checks membership at `join`). */
  async #openSfu(conversation: string, callId: string, relay: string): Promise<SfuSession> {
    const client = this.#client
    const room = client?.rooms.find((r) => r.id === conversation)
    if (client === undefined || room === undefined) {
      throw new Error('This call goes through a relay, and only a room joined here can reach it.')
    }
    // A `here` names the call's relay, and any member may send one: only a relay this device knows is dialled.
    if (!client.relays.isRelay(relay)) {
      throw new Error(
        'This call goes through a relay this device does not know. Ask whoever started it for an invite that names the relay, or start a new call.',
      )
    }
    return await openSfuSession(client.libp2p, relay, { topic: room.topic, call: callId })
  }

  /**
   * The call panel says when this device's call signals cannot go out (nobody hears the call), or its forwarding unit
   * failed it (it is reaching it again), and stops once both are well.
   */
  #onMeshChanged(conversation: string, mesh: CallMesh): void {
    const error = mesh.signalError
    const shown = this.problem?.conversation === conversation && this.problem.fromCall === true
    if (mesh.mediaError !== undefined) {
      this.problem = {
        conversation,
        text: `This call's media stopped: ${describeError(mesh.mediaError)}`,
        fromCall: true,
      }
    } else if (error !== undefined) {
      this.problem = { conversation, text: `Nobody can hear this call yet: ${describeError(error)}`, fromCall: true }
    } else if (shown) {
      this.problem = undefined
    }
    this.#changed()
  }

  /** How `conversation` sends this call's signals: its room, or the DM. */
  #port(conversation: string): CallPort | undefined {
    const client = this.#client
    const view = this.#conversations.get(conversation)
    if (client === undefined || view === undefined || view.state !== 'joined') return undefined
    const selfPeerId = client.peerId.toString()
    const checkPath = () => checkRelays(client)
    if (view.kind === 'room') {
      const room = client.rooms.find((r) => r.id === conversation)
      if (room === undefined) return undefined
      return { selfPeerId, send: (signal: CallSignalInput) => room.sendCallSignal(signal), checkPath }
    }
    const dm = client.dm(conversation)
    return { selfPeerId, send: (signal: CallSignalInput) => dm.sendCallSignal(signal), checkPath }
  }

  #watchRooms(): void {
    for (const room of this.#client?.rooms ?? []) {
      if (this.#watched.has(room)) continue
      this.#watched.add(room)
      room.addEventListener('call:signal', (event) => this.#onSignal(event.detail))
      room.addEventListener('member:removed', (event) => this.#memberRemoved(room, event.detail))
    }
  }

  /**
   * A wallet removed from a room (a ban, a kick, a lock that leaves it out, a token gate it fails — the owner's new gate
   * included): a call this tab is in there drops its devices and starts a new key at once (`CallMesh.membersRemoved`),
   * or is left when this wallet is the one removed. The sdk says `member:removed` only once it rotated this device's
   * sender key without the wallet, so the new call key goes out under a sender key it cannot read.
   */
  #memberRemoved(room: Room, removed: RoomMemberRemoved): void {
    const gone = removedWallet(removed)
    const conversation = this.#conversationId(room.id)
    for (const call of this.#ongoing.get(conversation)?.values() ?? []) {
      for (const [peerId, device] of call.devices) if (gone(device.address)) call.devices.delete(peerId)
    }
    const active = this.#active
    if (active === undefined || active.conversation !== conversation) return
    if (this.#me !== undefined && gone(this.#me)) void this.leave()
    else active.mesh.membersRemoved(gone)
    this.#changed()
  }

  #onSignal(event: CallSignalEvent): void {
    const conversation = this.#conversationId(event.conversation)
    const { signal } = event
    if (signal.op === 'here' && event.sentAtMs < Date.now() - STALE_HERE_MS) return
    const active = this.#active
    if (active !== undefined && active.conversation === conversation && active.callId === signal.call) {
      active.mesh.handle(event)
    }
    if (signal.op === 'here') {
      const calls = this.#ongoing.get(conversation) ?? new Map<string, OngoingCall>()
      this.#ongoing.set(conversation, calls)
      let call = calls.get(signal.call)
      if (call === undefined) {
        call = { conversation, callId: signal.call, startedAtMs: signal.startedAtMs, video: false, devices: new Map() }
        calls.set(signal.call, call)
      }
      call.startedAtMs = Math.min(call.startedAtMs, signal.startedAtMs)
      call.video ||= signal.media.video
      call.sfu ??= signal.sfu
      call.devices.set(event.senderPeerId, { address: event.sender, lastHeardMs: Date.now() })
      this.#ring(call, event)
      this.#changed()
    } else if (signal.op === 'leave') {
      const call = this.#ongoing.get(conversation)?.get(signal.call)
      call?.devices.delete(event.senderPeerId)
      if (call !== undefined && call.devices.size === 0) this.#ongoing.get(conversation)?.delete(signal.call)
      this.#changed()
    }
  }

  /**
   * The first `here` of a call this tab is not in rings, unless it is this wallet's own (another device), an old one,
   * or its wallet rang lately ({@link RingLimit}).
   */
  #ring(call: OngoingCall, event: CallSignalEvent): void {
    if (this.#active?.callId === call.callId) {
      this.#rings.silence(call.callId)
      return
    }
    if (event.sender.toLowerCase() === this.#me || event.sentAtMs < Date.now() - RING_WITHIN_MS) return
    if (!this.#rings.admit(call.callId, event.sender, Date.now())) return
    const view = this.#conversations.get(call.conversation)
    if (view === undefined) return
    void this.#notifications.ring({
      conversation: call.conversation,
      callId: call.callId,
      from: event.sender,
      video: event.signal.op === 'here' && event.signal.media.video,
      where: view.kind === 'dm' ? undefined : view.name,
    })
  }

  /** The app's id of the conversation an event names (a DM's address as the conversations spell it). */
  #conversationId(id: string): string {
    if (this.#conversations.get(id) !== undefined) return id
    const lower = id.toLowerCase()
    return this.#conversations.list.find((view) => view.id.toLowerCase() === lower)?.id ?? id
  }

  #expire(): void {
    const cutoff = Date.now() - CALL_HERE_TIMEOUT_MS
    let changed = false
    for (const [conversation, calls] of this.#ongoing) {
      for (const [callId, call] of calls) {
        for (const [peerId, device] of call.devices) {
          if (device.lastHeardMs < cutoff) {
            call.devices.delete(peerId)
            changed = true
          }
        }
        if (call.devices.size === 0) calls.delete(callId)
      }
      if (calls.size === 0) this.#ongoing.delete(conversation)
    }
    if (changed) this.#changed()
  }

  #changed(): void {
    this.dispatchEvent(new Event('calls:changed'))
  }
}

function newest(call: OngoingCall): number {
  return Math.max(0, ...[...call.devices.values()].map((device) => device.lastHeardMs))
}

function describeMediaError(err: unknown): string {
  return err instanceof MediaAccessError ? err.message : describeError(err)
}

/** How long a call waits for a relay to connect again after a check closed a dead one. */
const RELAY_BACK_TIMEOUT_MS = 10_000

/**
 * A call connection lost its path: the relay connections are checked (`RelayPool.check`), and when one was dead this
 * waits (at most {@link RELAY_BACK_TIMEOUT_MS}) for a relay to be connected again, so that what the call sends next
 * goes out.
 */
async function checkRelays(client: SecureChatClient): Promise<void> {
  const closed = await client.relays.check()
  if (closed.length === 0 && client.relays.connected().length > 0) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      client.relays.removeEventListener('relay:connected', done)
      resolve()
    }
    const timer = setTimeout(done, RELAY_BACK_TIMEOUT_MS)
    client.relays.addEventListener('relay:connected', done)
    if (client.relays.connected().length > 0 && closed.length === 0) done()
  })
}
