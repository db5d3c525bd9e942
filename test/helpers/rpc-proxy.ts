/**
 * vitest helper: a TCP forwarder in front of a JSON-RPC endpoint, to take "the chain" away from
 * some components (an RPC outage) while the chain itself keeps running for the others.
 *
 *   const proxy = await startRpcProxy(chain.rpcUrl)
 *   proxy.cut()      // every connection is dropped, new ones are reset
 *   proxy.stall()    // connections are accepted and never answered
 *   proxy.restore()
 */
import { connect, createServer, type Socket } from 'node:net'

export interface RpcProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to give to the components under test. */
  readonly url: string
  /** Drops every open connection and resets new ones until {@link restore}. */
  cut(): void
  /** Drops every open connection; new ones are accepted and never answered until {@link restore}. */
  stall(): void
  restore(): void
  close(): Promise<void>
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let mode: 'up' | 'down' | 'stalled' = 'up'
  const server = createServer((client) => {
    if (mode === 'down') {
      client.resetAndDestroy()
      return
    }
    if (mode === 'stalled') {
      sockets.add(client)
      client.once('close', () => sockets.delete(client))
      client.on('error', () => client.destroy())
      return
    }
    const upstream = connect(Number(port), hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: listening } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${listening}`,
    cut() {
      mode = 'down'
      for (const socket of sockets) socket.destroy()
    },
    stall() {
      mode = 'stalled'
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      mode = 'up'
    },
    close() {
      mode = 'down'
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
