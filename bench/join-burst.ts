/**
 * `BENCH_SUITES=join-burst`: `BENCH_JOIN_MEMBERS` sdk clients (default 30), in this process, join one room over
 * one relay together, spread over `BENCH_JOIN_SPREAD_MS` (default 5 s, as a crowd arriving does; issue 13: fifty
 * members from one address). Counted at the relay, which receives every record of the topic once: the presence and keys records the burst published, from the first join
 * until every member lists every other (`settled`). Then the creator sends one message: the time until every
 * other member has read it (`message:received`). Every client checks every record, so on 2 cores the figures
 * are the burst's cost more than the network's.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { decodeRecord, type Room } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { envInt } from './scale.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_JOIN_MEMBERS = 30
export const DEFAULT_JOIN_SPREAD_MS = 5_000
/** Longest the burst may take to settle, or the message to reach everyone, before the run reports what it has. */
export const JOIN_BURST_TIMEOUT_MS = 180_000

export async function run(): Promise<BenchRecord[]> {
  const members = envInt('BENCH_JOIN_MEMBERS', DEFAULT_JOIN_MEMBERS)
  const spreadMs = envInt('BENCH_JOIN_SPREAD_MS', DEFAULT_JOIN_SPREAD_MS)
  const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  await relay.start()
  const clients: SecureChatClient[] = []
  try {
    for (let i = 0; i < members; i++) {
      const client = createClient({
        domain: DEFAULT_CLI_DOMAIN,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }),
        bootstrap: [relay.multiaddrs[0]!.toString()],
      })
      await client.start()
      clients.push(client)
    }
    const [creator, ...joiners] = clients as [SecureChatClient, ...SecureChatClient[]]
    const { room, invite } = await creator.createRoom({ name: 'join burst' })
    const counts = { presence: 0, keys: 0 }
    relay.libp2p.services.pubsub.addEventListener('message', ({ detail }: CustomEvent<Message>) => {
      if (detail.topic !== room.topic) return
      const decoded = decodeRecord(detail.data)
      if (decoded.status !== 'ok') return
      if (decoded.record.type === 'presence') counts.presence += 1
      if (decoded.record.type === 'keys') counts.keys += 1
    })
    const startedMs = performance.now()
    const rooms: Room[] = [
      room,
      ...(await Promise.all(
        joiners.map(async (client, i) => {
          await new Promise((resolve) => setTimeout(resolve, (i * spreadMs) / Math.max(1, joiners.length - 1)))
          return await client.joinRoom(invite)
        }),
      )),
    ]
    await until(() => rooms.every((r) => r.members().length === members))
    const settledMs = performance.now() - startedMs
    const burst = { ...counts }

    const sentMs = performance.now()
    const read = rooms
      .slice(1)
      .map(
        (r) =>
          new Promise<number>((resolve) =>
            r.addEventListener('message:received', () => resolve(performance.now() - sentMs), { once: true }),
          ),
      )
    await room.send('after the burst')
    const readMs = await Promise.race([
      Promise.all(read).then((times) => Math.max(...times)),
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), JOIN_BURST_TIMEOUT_MS).unref()),
    ])
    const result = {
      members,
      spreadMs,
      settledMs: Math.round(settledMs),
      presence: burst.presence,
      keys: burst.keys,
      presencePerMember: burst.presence / members,
      keysPerMember: burst.keys / members,
      readByAllMs: Math.round(readMs),
    }
    console.log(`join-burst: ${JSON.stringify(result)}`)
    return [
      { name: 'join_burst.members', unit: 'members', value: members },
      { name: 'join_burst.settled', unit: 'ms', value: result.settledMs },
      { name: 'join_burst.records.presence', unit: 'records', value: burst.presence },
      { name: 'join_burst.records.keys', unit: 'records', value: burst.keys },
      { name: 'join_burst.message.read_by_all', unit: 'ms', value: result.readByAllMs },
    ]
  } finally {
    for (const client of clients.reverse()) await client.stop().catch(() => {})
    await relay.stop()
  }
}

/** Checks `done` every 100 ms until it holds, at most {@link JOIN_BURST_TIMEOUT_MS}. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + JOIN_BURST_TIMEOUT_MS
  while (!done()) {
    if (Date.now() > deadline) throw new Error('join burst did not settle')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
