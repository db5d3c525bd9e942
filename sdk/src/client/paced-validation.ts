import type { GossipSub, Message, TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub'
import { PACER_CHAT_TURNS_PER_CONTROL, PACER_SLICE_MS } from '../constants.ts'
import { chatRecordHint } from '../json-records.ts'

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
 * Which queue a caller waits in for its turn: `chat` (what people wrote, and a sender's own work) goes first,
 * `control` (presence, sender keys, device lists, queries) gets one turn in every {@link PACER_CHAT_TURNS_PER_CONTROL}
 * + 1 while both wait.
 */
export type PacerLane = 'chat' | 'control'

/** The lane of a record waiting for validation: chat records by their type ({@link chatRecordHint}), else control. */
export function laneOfRecord(message: Message): PacerLane {
  return chatRecordHint(message.data) ? 'chat' : 'control'
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
 * Waiting callers go in order of arrival within their lane ({@link PacerLane}), chat before
 * control: a join's presence and keys records — hundreds, when fifty members join a room — used
 * to queue in front of the messages that arrived after them, and a message waited for all of
 * them. Control still gets one turn in every {@link PACER_CHAT_TURNS_PER_CONTROL} + 1 while chat
 * waits, so a newcomer's keys get through a stream of messages. One sender's records keep their
 * order ({@link wrap}): only other senders' messages go first.
 */
export class EventLoopPacer {
  readonly #sliceMs: number
  readonly #chatTurnsPerControl: number
  readonly #waiting: Record<PacerLane, Array<() => void>> = { chat: [], control: [] }
  /** Chat callers let go in a row while control ones waited. */
  #chatStreak = 0
  /** Records waiting in the control lane, by sender (the gossip `from`); senders with none are not kept. */
  readonly #controlWaiting = new Map<string, number>()
  /** When the current slice began; undefined when none is open (the event loop had its turn since). */
  #sliceStartMs: number | undefined
  #resumeQueued = false

  constructor(sliceMs = PACER_SLICE_MS, chatTurnsPerControl = PACER_CHAT_TURNS_PER_CONTROL) {
    this.#sliceMs = sliceMs
    this.#chatTurnsPerControl = chatTurnsPerControl
  }

  /** Callers waiting for the next slice. */
  get waiting(): number {
    return this.#waiting.chat.length + this.#waiting.control.length
  }

  /**
   * Undefined when the caller may go on now (no promise in the common case); else resolves when it may. A sender's
   * own work (`gossip-drain.ts`) waits in the chat lane, the default.
   */
  turn(lane: PacerLane = 'chat'): Promise<void> | undefined {
    if (this.waiting === 0 && this.#withinSlice()) return undefined
    return new Promise((resolve) => {
      this.#waiting[lane].push(resolve)
      this.#resumeLater()
    })
  }

  /**
   * `validate` run through this pacer, in the lane `laneOf` gives its record; its `first`, if any, before it waits. A
   * chat record whose sender has control records waiting waits behind them, in their lane: one sender's records keep
   * their order (a sender key sealed just before a message must not arrive after it — each member would hold the
   * message and ask the sender for its key again; a newcomer's message after its presence, which names its
   * certificate).
   */
  wrap(validate: FirstCheckedValidator, laneOf: (message: Message) => PacerLane = laneOfRecord): TopicValidatorFn {
    const first = validate.first
    return async (peer, message) => {
      const early = first?.(peer, message)
      if (early !== undefined) return early
      const sender = message.type === 'signed' ? message.from.toString() : undefined
      const lane = sender !== undefined && this.#controlWaiting.has(sender) ? 'control' : laneOf(message)
      const turn = this.turn(lane)
      if (turn !== undefined) {
        if (lane === 'control' && sender !== undefined) await this.#waitAsControl(sender, turn)
        else await turn
      }
      return validate(peer, message)
    }
  }

  async #waitAsControl(sender: string, turn: Promise<void>): Promise<void> {
    this.#controlWaiting.set(sender, (this.#controlWaiting.get(sender) ?? 0) + 1)
    try {
      await turn
    } finally {
      const left = (this.#controlWaiting.get(sender) ?? 1) - 1
      if (left > 0) this.#controlWaiting.set(sender, left)
      else this.#controlWaiting.delete(sender)
    }
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
    this.#next()?.()
    queueMicrotask(() => this.#release())
  }

  /** The next caller to let go: chat first, control once chat has had its turns in a row (or none waits). */
  #next(): (() => void) | undefined {
    const { chat, control } = this.#waiting
    if (chat.length > 0 && (control.length === 0 || this.#chatStreak < this.#chatTurnsPerControl)) {
      this.#chatStreak = control.length === 0 ? 0 : this.#chatStreak + 1
      return chat.shift()
    }
    this.#chatStreak = 0
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
