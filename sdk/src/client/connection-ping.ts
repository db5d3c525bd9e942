/**
 * A ping over one given connection (libp2p's ping protocol, `/ipfs/ping/1.0.0`: 32 random bytes echoed back), where
 * `libp2p.services.ping.ping(peer)` picks any connection of the peer: with two connections to one peer — the one a
 * device opened from its old address and the one from its new — only this tells which one is dead.
 */
import type { Connection } from '@libp2p/interface'
import { PING_PROTOCOL } from '@libp2p/ping'

const PING_BYTES = 32

/**
 * Whether `connection` is alive: it echoes a ping within `timeoutMs`, or the peer at its other end refuses the ping
 * protocol (a peer without libp2p's ping service: the refusal came back over the connection, so the path works — a
 * bare libp2p peer's older connection is not dead for that). Never throws.
 */
export async function pingConnection(connection: Connection, timeoutMs: number): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs)
  let stream: Awaited<ReturnType<Connection['newStream']>> | undefined
  try {
    stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
    const sent = crypto.getRandomValues(new Uint8Array(PING_BYTES))
    const opened = stream
    const echoed = new Promise<boolean>((resolve) => {
      const received: number[] = []
      const onMessage = (event: { data: { subarray(): Uint8Array } }): void => {
        received.push(...event.data.subarray())
        if (received.length < PING_BYTES) return
        opened.removeEventListener('message', onMessage as never)
        resolve(received.slice(0, PING_BYTES).every((byte, i) => byte === sent[i]))
      }
      opened.addEventListener('message', onMessage as never)
      opened.addEventListener('close', () => resolve(false), { once: true })
      signal.addEventListener('abort', () => resolve(false), { once: true })
    })
    stream.send(sent)
    const answered = await echoed
    if (answered) await stream.close({ signal }).catch(() => stream?.abort(new Error('ping done')))
    else stream.abort(new Error('no ping answer'))
    return answered
  } catch (err) {
    stream?.abort(new Error('ping failed'))
    // By name: a second copy of @libp2p/interface in a bundle would fail `instanceof`.
    return (err as Error | undefined)?.name === 'UnsupportedProtocolError' && !signal.aborted
  }
}
