/**
 * The lossy link the loss test runs on (test/helpers/lossy-link.ts): whatever it does to timing,
 * a TCP stream through it arrives whole and in order, as over a real lossy network; a partition
 * holds a new connection until it heals; a reset closes the connection.
 */
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { LossyLink, seededRandom } from './helpers/lossy-link.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A loopback server that echoes every byte back; `accepted` counts its connections. */
async function echoServer(): Promise<{ port: number; accepted: () => number }> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server: Server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, accepted: () => accepted }
}

async function startLink(port: number, init: ConstructorParameters<typeof LossyLink>[1]): Promise<LossyLink> {
  const link = new LossyLink({ host: '127.0.0.1', port }, init)
  await link.start()
  cleanups.push(() => link.stop())
  return link
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
    cleanups.push(async () => socket.destroy())
  })
}

/** Resolves with the first `length` bytes `socket` receives. */
function receive(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      got += chunk.byteLength
      if (got >= length) resolve(Buffer.concat(chunks).subarray(0, length))
    })
    socket.once('close', () => reject(new Error(`closed after ${got} of ${length} bytes`)))
  })
}

describe('lossy link', () => {
  it('behavior: with 30% segment loss a stream arrives whole and in order, later than it was sent', async () => {
    const link = await startLink((await echoServer()).port, { loss: 0.3, retransmitMs: 5, random: seededRandom(7) })
    const socket = await dial(link.port)
    const sent = randomBytes(256 * 1024)
    const echoed = receive(socket, sent.byteLength)
    for (let i = 0; i < sent.byteLength; i += 4_096) socket.write(sent.subarray(i, i + 4_096))
    expect((await echoed).equals(sent)).toBe(true)
    expect(link.stats.retransmitted).toBeGreaterThan(0)
  })

  it('behavior: a partition holds a new connection and what it sends until it heals', async () => {
    const target = await echoServer()
    const link = await startLink(target.port, {})
    link.partition()
    const socket = await dial(link.port)
    const echoed = receive(socket, 5)
    socket.write('held!')
    // A round trip through another echo server: by then the link has accepted ours and held it.
    const probe = await dial((await echoServer()).port)
    const probed = receive(probe, 1)
    probe.write('x')
    await probed
    expect(link.stats.connections).toBe(1)
    expect(target.accepted()).toBe(0)
    link.heal()
    expect((await echoed).toString()).toBe('held!')
    expect(target.accepted()).toBe(1)
  })

  it('behavior: a reset closes the connection', async () => {
    const link = await startLink((await echoServer()).port, {})
    const socket = await dial(link.port)
    const echoed = receive(socket, 1)
    socket.write('x')
    await echoed
    link.impair({ resetMeanMs: 1 })
    await new Promise((resolve) => socket.once('close', resolve))
    expect(link.stats.resets).toBe(1)
  })
})
