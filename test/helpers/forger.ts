/**
 * A forger for the tests of what a relay refuses: a bare libp2p node on a room's topic with a valid certificate of its
 * own (no sdk client, so it publishes whatever bytes a test writes), and publishing until the relay has a record.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { RELAY_GOSSIP_GRACE_MS, WIRE_VERSION } from '@securechat/sdk/constants'
import { createCertificate, walletSigner } from '@securechat/sdk/identity'
import { encodeRecord, roomTopic } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { until } from './room-inbox.ts'

export interface Forger {
  libp2p: SecureChatLibp2p
  /** Its wallet's address: what the others list it as. */
  address: string
  /** Its presence record, naming its certificate: its records are judged at once by whoever has it. */
  presence: Uint8Array
}

/** The forger, subscribed to the room's topic, connected to the relay and subscribed to by it. */
export async function startForger(params: {
  roomId: string
  relayAddress: string
  domain: string
  chainId: number
  timeoutMs: number
}): Promise<Forger> {
  const topic = roomTopic(params.roomId)
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  const pubsub = libp2p.services.pubsub
  pubsub.subscribe(topic)
  await libp2p.dial(multiaddr(params.relayAddress))
  await until(
    [[pubsub as unknown as EventTarget, 'subscription-change']],
    () => pubsub.getSubscribers(topic).some((peer) => params.relayAddress.endsWith(peer.toString())),
    () => 'the relay never subscribed to the room topic',
    params.timeoutMs,
  )
  const wallet = Wallet.createRandom()
  const cert = await createCertificate({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    peerId: libp2p.peerId.toString(),
    domain: params.domain,
    chainId: params.chainId,
  })
  const presence = encodeRecord({ v: WIRE_VERSION, type: 'presence', room: params.roomId, cert, atMs: Date.now() })
  return { libp2p, address: wallet.address, presence }
}

/**
 * `libp2p` publishes `bytes` on `topic`, and the relay at `relayAddress` gets them. It keeps its relay connection the
 * way the sdk's relay pool does: it dials the relay again when the connection is gone (libp2p closes a connection
 * whose ping times out on a loaded machine), and closes and redials a connection that carries no gossip (gossipsub
 * drops a peer whose stream failed and opens none until the next connection); and, like `Room.send`, it publishes
 * again while the record reaches nobody (a subscription can arrive before the stream to the relay opens).
 */
export async function publishToRelay(
  libp2p: SecureChatLibp2p,
  topic: string,
  relayAddress: string,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const pubsub = libp2p.services.pubsub
  const relayPeer = relayAddress.split('/p2p/').at(-1)!
  const deadline = Date.now() + timeoutMs
  const state = (): string =>
    `gossip peers: ${pubsub.getPeers().map(String).join(', ') || 'none'}; relay subscribed: ${pubsub
      .getSubscribers(topic)
      .some((peer) => peer.toString() === relayPeer)}`
  for (;;) {
    if (Date.now() > deadline) throw new Error(`the forged record never reached the relay (${state()})`)
    const connection = await libp2p.dial(multiaddr(relayAddress))
    const subscribed = await until(
      [[pubsub as unknown as EventTarget, 'subscription-change']],
      () => pubsub.getSubscribers(topic).some((peer) => peer.toString() === relayPeer),
      () => '',
      RELAY_GOSSIP_GRACE_MS,
    ).then(
      () => true,
      () => false,
    )
    if (!subscribed) {
      await connection.close().catch(() => undefined)
      continue
    }
    const { recipients } = await pubsub.publish(topic, bytes)
    if (recipients.map(String).includes(relayPeer)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
