import type { GossipSub, TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub'
import { PACER_SLICE_MS } from '../constants.ts'

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
 * lets it go on at once; past it, callers wait in order of arrival and go on after the event
 * loop had its turn. Only when work happens is paced: the work itself and its order stay the same.
 */
export class EventLoopPacer {
  readonly #sliceMs: number
  readonly #waiting: Array<() => void> = []
  /** When the current slice began; undefined when none is open (the event loop had its turn since). */
  #sliceStartMs: number | undefined
  #resumeQueued = false

  constructor(sliceMs = PACER_SLICE_MS) {
    this.#sliceMs = sliceMs
  }

  /** Callers waiting for the next slice. */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Undefined when the caller may go on now (no promise in the common case); else resolves when it may. */
  turn(): Promise<void> | undefined {
    if (this.#waiting.length === 0 && this.#withinSlice()) return undefined
    return new Promise((resolve) => {
      this.#waiting.push(resolve)
      this.#resumeLater()
    })
  }

  /** `validate` run through this pacer; its `first`, if any, before it waits. */
  wrap(validate: FirstCheckedValidator): TopicValidatorFn {
    const first = validate.first
    return async (peer, message) => {
      const early = first?.(peer, message)
      if (early !== undefined) return early
      const turn = this.turn()
      if (turn !== undefined) await turn
      return validate(peer, message)
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
    if (this.#waiting.length === 0) return
    if (!this.#withinSlice()) {
      this.#resumeLater()
      return
    }
    this.#waiting.shift()?.()
    queueMicrotask(() => this.#release())
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
