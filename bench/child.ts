import type { GossipSub } from '@libp2p/gossipsub'
import type { ChildEnvelope, ChildEvent, CommandMap, RequestEnvelope } from './protocol.ts'

export type Handlers<M extends CommandMap> = {
  [K in keyof M]: (command: M[K]['command']) => Promise<M[K]['result']> | M[K]['result']
}

/**
 * Runs a benchmark child: answers the parent's commands over IPC and exits when the parent
 * goes away (its IPC channel closes), so a crashed or killed parent leaves no orphans.
 */
export function serve<M extends CommandMap>(handlers: Handlers<M>): void {
  if (process.send === undefined) {
    process.stderr.write('this is a benchmark child process: run `npm run bench`\n')
    process.exit(2)
  }
  process.on('disconnect', () => process.exit(0))
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench child ${process.pid}: ${err.stack ?? String(err)}\n`)
    process.exit(1)
  })
  process.on('message', (raw: RequestEnvelope) => {
    const handler = (handlers as Record<string, (command: unknown) => unknown>)[raw.command.type]
    const reply = async (): Promise<ChildEnvelope> => {
      if (handler === undefined)
        return { kind: 'reply', id: raw.id, ok: false, error: `no command ${raw.command.type}` }
      try {
        return { kind: 'reply', id: raw.id, ok: true, result: await handler(raw.command) }
      } catch (err) {
        return {
          kind: 'reply',
          id: raw.id,
          ok: false,
          error: describe(err),
        }
      }
    }
    void reply().then((envelope) => {
      // `stop` ends the process once its reply is out; a normal exit also writes a --cpu-prof profile.
      const last = raw.command.type === 'stop' && envelope.kind === 'reply' && envelope.ok
      send(envelope, last ? () => process.exit(0) : undefined)
    })
  })
}

export function emit(event: ChildEvent): void {
  send({ kind: 'event', event })
}

function send(envelope: ChildEnvelope, then?: () => void): void {
  if (!process.connected) return
  process.send?.(envelope, undefined, {}, then)
}

/**
 * The PeerIds in this node's mesh for `topic`. Gossipsub's implementation has `getMeshPeers`;
 * its public interface does not declare it.
 */
export function meshPeers(pubsub: GossipSub, topic: string): string[] {
  return (pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(topic)
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const text = err.stack ?? `${err.name}: ${err.message}`
  return err.cause === undefined ? text : `${text}\ncaused by: ${describe(err.cause)}`
}
