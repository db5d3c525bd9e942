/**
 * The calls the relay forwards, by (topic, call): one Janus room each, made at the first device's join through the
 * relay's own Janus session and destroyed after the last device left. Places are given out here, within the caps
 * (`--sfu-max-calls`, `--sfu-max-publishers` devices per call), before Janus is asked anything, so the caps hold
 * while joins are under way. Room and feed numbers are the relay's: small, sequential, safe as JSON numbers.
 */
import { randomBytes } from 'node:crypto'
import { MAX_SFU_FEED } from '@securechat/sdk/calls'
import type { Logger } from '@securechat/sdk/logger'
import type { JanusSession } from './janus-api.ts'
import type { JanusRun } from './janus-process.ts'
import { type SfuCall, SfuRefusal, type SfuStream } from './sfu-stream.ts'

export interface SfuCallsInit {
  maxPublishers: number
  maxCalls: number
  log: Logger
}

export class SfuCalls {
  readonly #init: SfuCallsInit
  readonly #calls = new Map<string, SfuCall>()
  #run: JanusRun | undefined
  /** The relay's own session and handle, which create and destroy rooms. */
  #control: Promise<{ session: JanusSession; handle: number }> | undefined
  #nextRoom = 1
  roomsCreated = 0
  roomsDestroyed = 0

  constructor(init: SfuCallsInit) {
    this.#init = init
  }

  /** The Janus rooms are made in; undefined while it is down. */
  get run(): JanusRun | undefined {
    return this.#run
  }

  /** Janus (re)started or died: nothing of a previous run is used again. */
  setRun(run: JanusRun | undefined): void {
    this.#run = run
    this.#control = undefined
  }

  counts(): { calls: number; devices: number; feeds: number } {
    let devices = 0
    let feeds = 0
    for (const call of this.#calls.values()) {
      devices += call.streams.size
      feeds += call.feeds.size
    }
    return { calls: this.#calls.size, devices, feeds }
  }

  /**
   * A place in the call of `join` for the device `make` builds with its feed number (the call made, and its room
   * asked of Janus, when it is new); a {@link SfuRefusal} when Janus is down or a cap is reached.
   */
  place(
    join: { topic: string; call: string },
    make: (call: SfuCall, feed: number) => SfuStream,
  ): { device: SfuStream; run: JanusRun } {
    const run = this.#run
    if (run === undefined) throw new SfuRefusal('unavailable', 'the forwarding unit is restarting')
    const key = `${join.topic} ${join.call}`
    let call = this.#calls.get(key)
    if (call === undefined) {
      if (this.#calls.size >= this.#init.maxCalls) {
        throw new SfuRefusal('full', `the relay forwards ${this.#init.maxCalls} calls at once (--sfu-max-calls)`)
      }
      call = this.#create(run, key, join)
    }
    if (call.streams.size >= this.#init.maxPublishers) {
      throw new SfuRefusal(
        'full',
        `the call has ${this.#init.maxPublishers} devices, this relay's most (--sfu-max-publishers)`,
      )
    }
    if (call.nextFeed > MAX_SFU_FEED) throw new SfuRefusal('full', 'the call used every feed number')
    const device = make(call, call.nextFeed++)
    call.streams.add(device)
    return { device, run }
  }

  /**
   * The device left (its session already destroyed): its feed goes from the call, the others are told, and the last
   * one out ends the call and its Janus room. Never throws.
   */
  async leave(device: SfuStream): Promise<void> {
    const call = device.call
    call.streams.delete(device)
    if (call.feeds.get(device.feed) === device.peer) {
      call.feeds.delete(device.feed)
      for (const other of call.streams) other.sendFeeds()
    }
    if (call.streams.size > 0 || this.#calls.get(call.key) !== call) return
    this.#calls.delete(call.key)
    const run = this.#run
    if (run === undefined) return
    try {
      await call.ready
      const control = await this.#controlHandle(run)
      await control.session.message(control.handle, {
        request: 'destroy',
        room: call.room,
        secret: call.secret,
        permanent: false,
      })
      this.roomsDestroyed += 1
    } catch (err) {
      this.#init.log.debug('Janus room not destroyed', { room: call.room, error: String(err) })
    }
  }

  /** Every device of every call, the calls forgotten (Janus died with their rooms, or the relay stops). */
  takeAll(): SfuStream[] {
    const devices = [...this.#calls.values()].flatMap((call) => [...call.streams])
    this.#calls.clear()
    return devices
  }

  #create(run: JanusRun, key: string, join: { topic: string; call: string }): SfuCall {
    const room = this.#nextRoom++
    const secret = randomBytes(24).toString('base64url')
    const ready = (async () => {
      const control = await this.#controlHandle(run)
      await control.session.message(control.handle, {
        request: 'create',
        admin_key: run.adminKey,
        room,
        permanent: false,
        description: 'securechat call',
        secret,
        is_private: true,
        publishers: this.#init.maxPublishers,
        audiocodec: 'opus',
        videocodec: 'vp8',
        record: false,
        notify_joining: false,
      })
      this.roomsCreated += 1
    })()
    ready.catch(() => undefined)
    const call: SfuCall = { key, ...join, room, secret, ready, streams: new Set(), feeds: new Map(), nextFeed: 1 }
    this.#calls.set(key, call)
    return call
  }

  #controlHandle(run: JanusRun): Promise<{ session: JanusSession; handle: number }> {
    const current = this.#control
    if (current !== undefined) return current
    const control = (async () => {
      const session = await run.api.createSession()
      session.onGone = () => {
        if (this.#control === control) this.#control = undefined
      }
      return { session, handle: await session.attach(() => undefined) }
    })()
    this.#control = control
    control.catch(() => {
      if (this.#control === control) this.#control = undefined
    })
    return control
  }
}
