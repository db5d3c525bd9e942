/**
 * The first connection of a start: one of the bootstrap relays is enough (the others connect meanwhile, and one
 * that is down must not hold the start up). Rounds of dials go again while every relay only timed out — busy, not
 * gone ({@link BOOTSTRAP_DIAL_ROUNDS}) — and the start fails with {@link UnreachableError} after that, or at once
 * when no relay was there at all.
 */
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { sleep } from '../async.ts'
import { BOOTSTRAP_DIAL_ROUNDS, BOOTSTRAP_DIAL_TIMEOUT_MS } from '../constants.ts'
import { UnreachableError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions } from '../types.ts'

/** Pause before round `n` + 1 (n ≥ 1): 1 s, then 2 s. */
const pauseAfterRound = (round: number): number => Math.min(2_000, 1_000 * 2 ** (round - 1))

export async function dialBootstrap(
  libp2p: Pick<Libp2p, 'dial'>,
  addresses: readonly string[],
  options: AbortOptions & { log: Logger },
): Promise<void> {
  for (let round = 1; ; round++) {
    const dials = addresses.map((address) =>
      libp2p.dial(multiaddr(address), { signal: options.signal ?? AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) }),
    )
    try {
      await Promise.any(dials)
      return
    } catch (err) {
      const errors = err instanceof AggregateError ? err.errors : [err]
      // A caller's own signal decides how long to wait; without one, only relays that were there but slow are
      // tried again.
      const busy = options.signal === undefined && errors.every(isTimeout)
      if (!busy || round >= BOOTSTRAP_DIAL_ROUNDS) {
        throw new UnreachableError(`no relay reachable at ${addresses.join(', ')}`, {
          hint: 'is `securechat relay` running there? Check the --bootstrap address (it ends in /p2p/<relay PeerId>)',
          details: { rounds: round },
          cause: errors[0],
        })
      }
      const pauseMs = pauseAfterRound(round)
      options.log.info('no relay answered in time; trying again', { round, pauseMs, addresses })
      await sleep(pauseMs)
    }
  }
}

/**
 * A dial that ran out of time (the relay took the connection and did not finish the handshakes), not one refused.
 * libp2p's upgrader re-throws a handshake's timeout as `EncryptionFailedError` with the abort's message only.
 */
function isTimeout(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return err.name === 'TimeoutError' || err.name === 'AbortError' || /timed? ?out|timeout/i.test(err.message)
}
