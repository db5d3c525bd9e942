/**
 * Relay failover (issue 12, item 7) with real processes: two linked relays, a `chat` sender and a `listen`
 * receiver started with `--bootstrap` the first, that know the second from the invite's relay hints. The relay they use is killed mid-conversation; the conversation goes
 * on through the other, and nothing is lost. The time from the kill to the first message through the other relay
 * is printed, not asserted (wall time on a shared machine says little).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { createClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { type CliProcess, killAfterEach, runCli, spawnCli, startRelayProcess, waitFor } from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

/** Resolves once `condition()` holds, checked now and on every `type` event of `target`. */
function when(target: EventTarget, type: string, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!condition()) return
      target.removeEventListener(type, check)
      resolve()
    }
    target.addEventListener(type, check)
    check()
  })
}

interface Printed {
  id: string
  text: string
  sender: string
}

function printed(listener: CliProcess): Printed[] {
  return listener.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Printed)
}

describe('relay failover', () => {
  it('behavior: the relay a sender and a listener use is killed mid-conversation; they go on through the other and lose nothing', async () => {
    const first = track(await startRelayProcess())
    const second = track(await startRelayProcess({ peers: [first.multiaddrs[0]!] }))
    const relays = [first.peerId, second.peerId]
    // The invite names both relays: every member knows both.
    const created = await runCli(
      ['room', 'create', '--name', 'lobby', '--bootstrap', first.multiaddrs[0]!, '--bootstrap', second.multiaddrs[0]!],
      { SECURECHAT_PRIVATE_KEY: ALICE.key },
    )
    expect(created.code, created.stderr).toBe(0)
    const invite = created.stdout.trim()

    // Each member is pointed at the first relay; the second it knows from the invite only.
    const bootstrap = ['--bootstrap', first.multiaddrs[0]!]
    const listener = track(
      spawnCli(['listen', '--room', invite, '--json', ...bootstrap], { SECURECHAT_PRIVATE_KEY: BOB.key }),
    )
    await waitFor(
      () => /\(peer (\w+)\)/.test(listener.stderr()),
      () => listener.stderr(),
    )
    const listenerPeer = /\(peer (\w+)\)/.exec(listener.stderr())![1]!
    const chat = track(spawnCli(['chat', '--room', invite, ...bootstrap], { SECURECHAT_PRIVATE_KEY: ALICE.key }))
    await chat.waitForLine((l) => l.includes('joined lobby'))
    // Both members are in the room on both relays (a relay also logs the other relay subscribing).
    for (const relay of [first, second]) {
      await relay.waitForLine((l) => l.includes('room:subscribed') && l.includes(listenerPeer))
      await relay.waitForLine(
        (l) => l.includes('room:subscribed') && !l.includes(listenerPeer) && !relays.some((peer) => l.includes(peer)),
      )
    }

    const say = (text: string): void => void chat.child.stdin!.write(`${text}\n`)
    const before = ['before 1', 'before 2', 'before 3']
    for (const text of before) say(text)
    await waitFor(
      () => before.every((text) => printed(listener).some((m) => m.text === text)),
      () => JSON.stringify(printed(listener)),
    )

    first.kill('SIGKILL')
    const killedAt = Date.now()
    // Said at once, while the members may not have noticed yet that their relay is gone.
    const after = ['after 1', 'after 2', 'after 3', 'after 4', 'after 5']
    for (const text of after) say(text)
    await listener.waitForLine((l) => l.includes('"after 1"'))
    const firstAfterMs = Date.now() - killedAt
    await waitFor(
      () => after.every((text) => printed(listener).some((m) => m.text === text)),
      () => JSON.stringify(printed(listener)),
    )
    const allAfterMs = Date.now() - killedAt
    await first.exited
    console.log(
      `relay failover: first message through the other relay ${firstAfterMs} ms after the kill, all ${after.length} in ${allAfterMs} ms`,
    )

    // Every message once, from Alice, and nothing else.
    const got = printed(listener)
    expect(got.map((m) => m.text).sort()).toEqual([...before, ...after].sort())
    expect(new Set(got.map((m) => m.id)).size).toBe(got.length)
    expect(got.every((m) => m.sender === ALICE.address)).toBe(true)
    expect(chat.lines.some((l) => l.includes('not sent'))).toBe(false)
  }, 180_000) // five processes start one after another: on a loaded machine that alone took 78 s

  it('behavior: a relay the client only met on the network is kept as a second one, and redialled at once when it drops', async () => {
    const named = await startRelay(stoppers)
    const met = await startRelay(stoppers)
    const client = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
      bootstrap: [named.multiaddrs[0]!],
    })
    await client.start()
    stoppers.push(() => client.stop())
    const relays = client.relays
    expect(relays.known()).toEqual([named.peerId])
    // Met once (as through peer exchange or a page's dial): its identify says it is a relay.
    await client.libp2p.dial(multiaddr(met.multiaddrs[0]!))
    await when(client.libp2p, 'peer:identify', () => relays.known().includes(met.peerId))
    // Dropped: with only one relay left, the client dials it again at once, not at the next tick.
    const lost = when(relays, 'relay:lost', () => true)
    await client.libp2p.hangUp(multiaddr(met.multiaddrs[0]!))
    await lost
    const droppedAt = Date.now()
    await when(relays, 'relay:connected', () => relays.connected().includes(met.peerId))
    console.log(`relay pool: a dropped relay redialled in ${Date.now() - droppedAt} ms`)
    expect(relays.connected().sort()).toEqual([named.peerId, met.peerId].sort())
    // The named relay dies: the one it met carries on.
    const namedPeer = named.peerId
    await named.stop()
    await when(relays, 'relay:lost', () => !relays.connected().includes(namedPeer))
    expect(relays.connected()).toEqual([met.peerId])
  })
  it('behavior: a relay connection whose gossip died is closed and dialled again, so the rooms do not go quiet', async () => {
    const relay = await startRelay(stoppers)
    const client = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
      bootstrap: [relay.multiaddrs[0]!],
    })
    await client.start()
    stoppers.push(() => client.stop())
    const pubsub = client.libp2p.services.pubsub
    const gossiping = (): boolean => pubsub.getPeers().some((peer) => peer.toString() === relay.peerId)
    await when(pubsub as unknown as EventTarget, 'gossipsub:heartbeat', gossiping)
    const [connection] = client.libp2p.getConnections(relay.libp2p.peerId)
    // gossipsub's streams fail while the connection stays up: gossipsub drops the relay and opens no new stream.
    for (const stream of connection!.streams.filter((s) => s.protocol?.includes('meshsub'))) {
      stream.abort(new Error('gossip stream failed (test)'))
    }
    await when(pubsub as unknown as EventTarget, 'gossipsub:heartbeat', () => !gossiping())
    await when(
      pubsub as unknown as EventTarget,
      'gossipsub:heartbeat',
      () => gossiping() && client.libp2p.getConnections(relay.libp2p.peerId).every((c) => c.id !== connection!.id),
    )
    expect(connection!.status).not.toBe('open')
  })
})
