/**
 * A child process of many light clients: real sdk clients (`createClient`, a fresh wallet and device each, the
 * devnet's signing terms), several to a process so that fifty of them fit on two cores. Each connects to one relay
 * and, as a browser does, reserves a circuit relay slot there (a HOP RESERVE over its own connection). Spoken to over
 * IPC (`bench/child.ts`, `bench/children.ts`); the parent says what to join and send, then asks what arrived.
 *
 * A message counts as gossiped when its record came in over gossipsub (`message` on the room's topic), not only
 * through a repair (catch-up, gap repair): a relay that stopped forwarding to a client shows there.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { Message } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { messageIdOf, type Room } from '@securechat/sdk/rooms'
import { hexlify, randomBytes, Wallet } from 'ethers'
import { meshPeers, serve } from '../../bench/child.ts'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../../node/src/constants.ts'
import { reserve, throwAwayPeer, tryConnect } from './attacker.ts'
import { until } from './room-inbox.ts'

export type LightClientCommands = {
  hello: { command: { type: 'hello' }; result: Record<string, never> }
  /** Starts `count` clients on `relay` (a multiaddr with its PeerId); each reserves a slot. */
  start: {
    command: { type: 'start'; count: number; relay: string; timeoutMs: number }
    /** The relay's answer to each client's RESERVE (100: reserved). */
    result: { peerIds: string[]; reservations: number[] }
  }
  /** The first client creates a room. */
  'create-room': { command: { type: 'create-room' }; result: { invite: string } }
  /** Every client not in a room yet joins it and waits for the relay's mesh. */
  join: { command: { type: 'join'; invite: string; timeoutMs: number }; result: Record<string, never> }
  /** Resolves once every client knows `count` members (itself included). */
  'await-members': { command: { type: 'await-members'; count: number; timeoutMs: number }; result: { known: number[] } }
  /** The first `senders` clients each send `count` messages, one every `intervalMs`, starting after `offsetMs`. */
  send: {
    command: { type: 'send'; senders: number; count: number; intervalMs: number; offsetMs: number }
    result: { ids: string[] }
  }
  /**
   * Resolves once every client has every one of `ids` it did not send, or after `timeoutMs`; either way, per client,
   * how many it lacks, how many of them reached its gossipsub at all (`gossiped`: none, when the relay never
   * forwarded them; all, when the room holds them back), how many of those it has came in only through a repair (not
   * over gossip), how many it could not decrypt and how many connections it lost.
   */
  'await-delivered': {
    command: { type: 'await-delivered'; ids: string[]; timeoutMs: number }
    result: Array<{
      missing: number
      gossiped: number
      notGossiped: number
      undecryptable: number
      connectionsClosed: number
    }>
  }
  /**
   * Opens connections to `relay` from throw-away peers, one after the other, until one is refused or `max` are open;
   * how many were open. Shows whether this process's address is held to the relay's per-IP cap.
   */
  probe: { command: { type: 'probe'; relay: string; max: number }; result: { connected: number } }
  stop: { command: { type: 'stop' }; result: Record<string, never> }
}

interface LightClient {
  client: SecureChatClient
  room: Room | undefined
  /** Ids of the messages it sent. */
  sent: Set<string>
  /** Ids of the messages delivered to it (`message:received`). */
  delivered: Set<string>
  /** Ids of the room records that reached it over gossipsub. */
  gossiped: Set<string>
  undecryptable: number
  connectionsClosed: number
}

const clients: LightClient[] = []
/** `progress` whenever a client learns of a member or a message. */
const progress = new EventTarget()

async function startClient(relay: string, timeoutMs: number): Promise<{ light: LightClient; reservation: number }> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    // A bare key: `Wallet.createRandom()` derives a mnemonic's seed first, a twentieth of a CPU-second each.
    signer: walletSigner({ type: 'eoa', signer: new Wallet(hexlify(randomBytes(32))) }),
    bootstrap: [relay],
  })
  await client.start({ signal: AbortSignal.timeout(timeoutMs) })
  const light: LightClient = {
    client,
    room: undefined,
    sent: new Set(),
    delivered: new Set(),
    gossiped: new Set(),
    undecryptable: 0,
    connectionsClosed: 0,
  }
  client.libp2p.addEventListener('connection:close', () => (light.connectionsClosed += 1))
  client.libp2p.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => {
    if (event.detail.topic === light.room?.topic) light.gossiped.add(messageIdOf(event.detail.data))
  })
  return { light, reservation: await reserve(client.libp2p, relay) }
}

function attach(light: LightClient, room: Room): void {
  light.room = room
  room.addEventListener('message:received', (event) => {
    light.delivered.add(event.detail.id)
    progress.dispatchEvent(new Event('progress'))
  })
  room.addEventListener('message:undecryptable', () => (light.undecryptable += 1))
  room.addEventListener('member:joined', () => progress.dispatchEvent(new Event('progress')))
}

function joined(light: LightClient): Room {
  if (light.room === undefined) throw new Error(`client ${light.client.peerId} is in no room`)
  return light.room
}

serve<LightClientCommands>({
  hello() {
    return {}
  },
  async start({ count, relay, timeoutMs }) {
    // One after the other: a process's clients share one event loop, and ten handshakes at once on a loaded
    // machine outlast libp2p's upgrade timeout. The processes start theirs at the same time.
    const started: Array<{ light: LightClient; reservation: number }> = []
    for (let i = 0; i < count; i++) started.push(await startClient(relay, timeoutMs))
    clients.push(...started.map(({ light }) => light))
    return {
      peerIds: started.map(({ light }) => light.client.peerId.toString()),
      reservations: started.map(({ reservation }) => reservation),
    }
  },
  async 'create-room'() {
    const first = clients[0]
    if (first === undefined) throw new Error('no client started')
    const { room, invite } = await first.client.createRoom({ name: 'one address' })
    attach(first, room)
    return { invite }
  },
  async join({ invite, timeoutMs }) {
    // All at once: every member answers a newcomer's presence with its own within 50–250 ms (`Room`), so
    // newcomers one after the other would cost a presence from every member each, each forwarded to every member.
    await Promise.all(
      clients
        .filter(({ room }) => room === undefined)
        .map(async (light) => {
          const room = await light.client.joinRoom(invite)
          attach(light, room)
          await room.waitForPeers({ signal: AbortSignal.timeout(timeoutMs) })
        }),
    )
    return {}
  },
  async 'await-members'({ count, timeoutMs }) {
    const known = (): number[] => clients.map((light) => joined(light).members().length)
    await until(
      [[progress, 'progress']],
      () => known().every((n) => n >= count),
      () => `members known: ${known().join(', ')}`,
      timeoutMs,
    ).catch((err: unknown) => {
      // What each one sees: a client without a connection or a mesh gets nothing, one with them does.
      const seen = clients.map(({ client, gossiped, room }) => {
        const mesh = room === undefined ? 0 : meshPeers(client.libp2p.services.pubsub, room.topic).length
        return `${client.libp2p.getConnections().length} connections, ${mesh} in mesh, ${gossiped.size} records`
      })
      throw new Error(`clients know ${known().join(', ')} of ${count} members (${seen.join('; ')}): ${String(err)}`)
    })
    return { known: known() }
  },
  async send({ senders, count, intervalMs, offsetMs }) {
    const ids: string[] = []
    await Promise.all(
      clients.slice(0, senders).map(async (light, s) => {
        const room = joined(light)
        // The senders of one process take turns, so that its messages spread over the interval; a fixed schedule.
        const startAt = performance.now() + offsetMs + (s * intervalMs) / senders
        for (let n = 0; n < count; n++) {
          await delay(Math.max(0, startAt + n * intervalMs - performance.now()))
          const { id } = await room.send(`message ${n} of ${light.client.peerId}`)
          light.sent.add(id)
          ids.push(id)
        }
      }),
    )
    return { ids }
  },
  async 'await-delivered'({ ids, timeoutMs }) {
    const others = (light: LightClient): string[] => ids.filter((id) => !light.sent.has(id))
    const complete = (): boolean => clients.every((light) => others(light).every((id) => light.delivered.has(id)))
    await until([[progress, 'progress']], complete, () => 'messages missing', timeoutMs).catch(() => undefined)
    return clients.map((light) => ({
      missing: others(light).filter((id) => !light.delivered.has(id)).length,
      gossiped: others(light).filter((id) => light.gossiped.has(id)).length,
      notGossiped: others(light).filter((id) => light.delivered.has(id) && !light.gossiped.has(id)).length,
      undecryptable: light.undecryptable,
      connectionsClosed: light.connectionsClosed,
    }))
  },
  async probe({ relay, max }) {
    const peers: Libp2p[] = []
    try {
      while (peers.length < max) {
        const peer = await throwAwayPeer()
        peers.push(peer)
        if (!(await tryConnect(peer, relay))) return { connected: peers.length - 1 }
      }
      return { connected: peers.length }
    } finally {
      await Promise.all(peers.map((peer) => peer.stop()))
    }
  },
  async stop() {
    await Promise.all(clients.map(({ client }) => client.stop()))
    return {}
  },
})
