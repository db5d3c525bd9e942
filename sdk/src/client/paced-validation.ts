import type { GossipSub, Message, TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub'
import { PACER_SLICE_MS, PACER_TURNS_PER_LATER_LANE } from '../constants.ts'
import { recordTypeHint } from '../json-records.ts'

/**
 * A validator that can tell at once, before its record waits for a turn, that the record is not worth validating: its
 * `first` runs as the record arrives and ends validation with what it returns, or returns undefined to let the record
 * wait for the validator. For checks far cheaper than the validation, made before a flood queues up (a relay's records
 * per second, node/src/relay/record-rates.ts): records dropped only in their turn would queue first, and the records
 * of everyone else behind them.
 */
export type FirstCheckedValidator = TopicValidatorFn & {
  first?: (...args: Parameters<TopicValidatorFn>) => TopicValidatorResult | undefined
}

/**
 * Which queue a caller waits in for its turn, first to last: `chat` (what people wrote, and a sender's own work),
 * `keys` (sender keys: what later messages need to be read), `control` (presence, device lists, queries). A lane takes
 * {@link PACER_TURNS_PER_LATER_LANE} turns in a row at most while a later one waits.
 */
export type PacerLane = 'keys' | 'chat' | 'control'

/** The lanes by the order they go in. */
const LANES: readonly PacerLane[] = ['chat', 'keys', 'control']

/** Room and DM record types that carry what a person wrote: a room's `message`, a DM's `init` and `msg`. */
const CHAT_RECORD_TYPES: ReadonlySet<string> = new Set(['message', 'init', 'msg'])

/** The lane of a record waiting for validation, from the type it names ({@link recordTypeHint}). */
export function laneOfRecord(message: Message): PacerLane {
  const type = recordTypeHint(message.data)
  return type === 'keys' ? 'keys' : type !== undefined && CHAT_RECORD_TYPES.has(type) ? 'chat' : 'control'
}

interface Waiter {
  /** The record's gossip `from`; undefined for a sender's own work and unsigned records. */
  sender: string | undefined
  go: () => void
}

/**
 * A macrotask: the event loop runs timers and I/O before it. `setImmediate` in Node; a
 * MessageChannel in browsers, where `setTimeout(0)` is clamped to 4 ms once nested.
 */
const nextTask: (run: () => void) => void =
  typeof setImmediate === 'function'
    ? (run) => setImmediate(run)
    : (() => {
        const channel = new MessageChannel()
        const queue: Array<() => void> = []
        channel.port1.onmessage = () => queue.shift()?.()
        return (run: () => void) => {
          queue.push(run)
          channel.port2.postMessage(undefined)
        }
      })()

/**
 * Gossipsub reads what a neighbour sent as fast as the connection brings it and validates every
 * record at once, in one chain of microtasks; a sender publishing in a loop resolves each publish
 * at once, also without a macrotask. Either way a backlog of thousands of records is worked
 * through without the event loop getting a turn, for as long as it takes (15 s seen in the
 * catch-up bench). Meanwhile no timer runs and no socket is read, so libp2p's connection monitor
 * finds its pings unanswered (its timeout starts at 5 s) and aborts the connection, and every
 * record queued on it is lost.
 *
 * So a node does that work in slices of {@link PACER_SLICE_MS}: within a slice, {@link turn}
 * lets it go on at once; past it, callers wait and go on after the event loop had its turn. Only
 * when work happens is paced: the work itself stays the same.
 *
 * Waiting callers go in order of arrival within their lane ({@link PacerLane}): chat, then sender keys, then
 * control. A join's presence — hundreds of records when fifty members join a room, each forwarded to every member —
 * used to queue in front of the messages that arrived after them, and in front of the sender keys those messages need:
 * at 1,000 members a relay's first key distribution waited two minutes behind it. A lane still gets one turn in every
 * {@link PACER_TURNS_PER_LATER_LANE} + 1 while the lanes before it wait, so keys get through a stream of messages and
 * presence through a stream of keys. One sender's records keep their order ({@link wrap}): only other senders' records
 * are passed.
 */
export class EventLoopPacer {
  readonly #sliceMs: number
  readonly #turnsPerLaterLane: number
  readonly #waiting: Record<PacerLane, Waiter[]> = { chat: [], keys: [], control: [] }
  /** Chat callers let go in a row while a later lane waited. */
  #chatStreak = 0
  /** Keys callers let go in a row while control ones waited. */
  #keysStreak = 0
  /** The lane each sender's waiting records are in (all in one), and how many; senders with none are not kept. */
  readonly #senders = new Map<string, { lane: PacerLane; count: number }>()
  /** When the current slice began; undefined when none is open (the event loop had its turn since). */
  #sliceStartMs: number | undefined
  #resumeQueued = false

  constructor(sliceMs = PACER_SLICE_MS, turnsPerLaterLane = PACER_TURNS_PER_LATER_LANE) {
    this.#sliceMs = sliceMs
    this.#turnsPerLaterLane = turnsPerLaterLane
  }

  /** Callers waiting for the next slice. */
  get waiting(): number {
    return this.#waiting.chat.length + this.#waiting.keys.length + this.#waiting.control.length
  }

  /**
   * Undefined when the caller may go on now (no promise in the common case); else resolves when it may. A sender's
   * own work (`gossip-drain.ts`) waits in the chat lane, the default. `sender` keeps one sender's records in order: a
   * record joins the lane its sender's earlier records wait in when that lane goes first, and otherwise takes them
   * along into its own (a sender key lifts its sender's waiting presence with it, past no one else's).
   */
  turn(lane: PacerLane = 'chat', sender?: string): Promise<void> | undefined {
    if (this.waiting === 0 && this.#withinSlice()) return undefined
    return new Promise((resolve) => {
      const waiter: Waiter = { sender, go: resolve }
      if (sender === undefined) this.#waiting[lane].push(waiter)
      else this.#enqueue(waiter, sender, lane)
      this.#resumeLater()
    })
  }

  /**
   * `validate` run through this pacer, in the lane `laneOf` gives its record; its `first`, if any, before it waits.
   */
  wrap(validate: FirstCheckedValidator, laneOf: (message: Message) => PacerLane = laneOfRecord): TopicValidatorFn {
    const first = validate.first
    return async (peer, message) => {
      const early = first?.(peer, message)
      if (early !== undefined) return early
      const sender = message.type === 'signed' ? message.from.toString() : undefined
      const turn = this.turn(laneOf(message), sender)
      if (turn !== undefined) await turn
      return validate(peer, message)
    }
  }

  #enqueue(waiter: Waiter, sender: string, lane: PacerLane): void {
    const earlier = this.#senders.get(sender)
    if (earlier === undefined) {
      this.#senders.set(sender, { lane, count: 1 })
      this.#waiting[lane].push(waiter)
      return
    }
    earlier.count += 1
    if (LANES.indexOf(lane) < LANES.indexOf(earlier.lane)) {
      // Its earlier records come along, in their order, ahead of it: lifted past other senders', never past it.
      const from = this.#waiting[earlier.lane]
      this.#waiting[lane].push(...from.filter((other) => other.sender === sender))
      this.#waiting[earlier.lane] = from.filter((other) => other.sender !== sender)
      earlier.lane = lane
    }
    this.#waiting[earlier.lane].push(waiter)
  }

  #withinSlice(): boolean {
    const now = performance.now()
    if (this.#sliceStartMs === undefined) {
      this.#sliceStartMs = now
      // The slice ends when the event loop next gets a turn: work after that starts a new one.
      nextTask(() => {
        this.#sliceStartMs = undefined
      })
      return true
    }
    return now - this.#sliceStartMs < this.#sliceMs
  }

  #resumeLater(): void {
    if (this.#resumeQueued) return
    this.#resumeQueued = true
    nextTask(() => {
      this.#resumeQueued = false
      this.#sliceStartMs = undefined
      this.#release()
    })
  }

  /** Lets waiting callers go, one per microtask so each one's synchronous work counts before the next. */
  #release(): void {
    if (this.waiting === 0) return
    if (!this.#withinSlice()) {
      this.#resumeLater()
      return
    }
    const waiter = this.#next()
    if (waiter?.sender !== undefined) {
      const waiting = this.#senders.get(waiter.sender)
      if (waiting !== undefined && --waiting.count === 0) this.#senders.delete(waiter.sender)
    }
    waiter?.go()
    queueMicrotask(() => this.#release())
  }

  /** The next caller to let go: the first lane's, unless it took its turns in a row while a later one waited. */
  #next(): Waiter | undefined {
    const { chat, keys, control } = this.#waiting
    const turns = this.#turnsPerLaterLane
    if (chat.length > 0 && ((keys.length === 0 && control.length === 0) || this.#chatStreak < turns)) {
      this.#chatStreak = keys.length === 0 && control.length === 0 ? 0 : this.#chatStreak + 1
      return chat.shift()
    }
    this.#chatStreak = 0
    if (keys.length > 0 && (control.length === 0 || this.#keysStreak < turns)) {
      this.#keysStreak = control.length === 0 ? 0 : this.#keysStreak + 1
      return keys.shift()
    }
    this.#keysStreak = 0
    return control.shift()
  }
}

/**
 * Gossipsub's `topicValidators`, every validator set on it run through one {@link EventLoopPacer}:
 * whoever installs a validator (rooms, DM topics, the relay) gets the pacing without knowing.
 */
export class PacedTopicValidators extends Map<string, TopicValidatorFn> {
  readonly pacer: EventLoopPacer

  constructor(pacer: EventLoopPacer) {
    super()
    this.pacer = pacer
  }

  override set(topic: string, validate: FirstCheckedValidator): this {
    return super.set(topic, this.pacer.wrap(validate))
  }
}

/** Paces `pubsub`'s validators from now on; returns the pacer, which the node's senders share. */
export function paceValidation(pubsub: GossipSub): EventLoopPacer {
  const pacer = new EventLoopPacer()
  const validators = new PacedTopicValidators(pacer)
  for (const [topic, validate] of pubsub.topicValidators)
    validators.set(topic, validate)
    // The field is `readonly` in the type only; gossipsub reads it on every record.
  ;(pubsub as { topicValidators: Map<string, TopicValidatorFn> }).topicValidators = validators
  return pacer
}

/** The pacer of a node made by `createSecureChatLibp2p`; undefined for another gossipsub. */
export function pacerOf(pubsub: GossipSub): EventLoopPacer | undefined {
  return pubsub.topicValidators instanceof PacedTopicValidators ? pubsub.topicValidators.pacer : undefined
}
