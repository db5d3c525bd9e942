/**
 * A light SecureChat client: what a relay sees of a real one, and nothing more. Its own Ed25519
 * PeerId and the sdk's libp2p node (`createSecureChatLibp2p`: TCP, Noise, Yamux, identify, ping,
 * gossipsub with the product's scoring and publish pacing), one connection to a relay, a
 * wallet-signed session certificate for that PeerId, and room records in the sdk's wire format
 * (`encodeRecord`), which relays validate like any other. No vault, no key bundle, no decryption,
 * no validation of what it receives. The scale benchmark runs a thousand to a process
 * (`swarm.ts`); tests use a few where a full client would be too slow.
 *
 * The scale benchmark makes its clients lighter still, in what only the client itself sees: a long
 * gossipsub heartbeat (`heartbeatMs`) and `drainRecords`, which takes what arrives before gossipsub
 * verifies, caches, scores or forwards it. The relay sees the same protocols, certificates and signed
 * records either way (see `drainRecords` for the one case where it could tell).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { RPC } from '@libp2p/gossipsub/message'
import type { PeerId } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { PRESENCE_INTERVAL_MS, WIRE_VERSION } from '@securechat/sdk/constants'
import { createCertificate, type WalletSigner, walletSigner } from '@securechat/sdk/identity'
import {
  createManifest,
  encodeRecord,
  type PresenceRecord,
  roomIdOf,
  roomTopic,
  type SignedManifest,
} from '@securechat/sdk/rooms'
import type { SessionCertificate } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'

/** A room a light client is in; `timer`, its presence's. */
export interface LightRoom {
  id: string
  topic: string
  manifest: SignedManifest
  timer?: ReturnType<typeof setTimeout>
}

export interface LightClient {
  libp2p: SecureChatLibp2p
  peerId: string
  certificate: SessionCertificate
  /** The room it entered first: the one it sends in. */
  room?: LightRoom
  /** Every room it is in, `room` first. */
  rooms: LightRoom[]
}

/**
 * Starts a client whose certificate `signer` signs (for the CLI's domain and the devnet's chain, what
 * `makeRoom`-style manifests name) and dials `relay`. `monitor: false` turns its own pings off (many
 * clients in one busy process would time them out); the relay still pings it. `heartbeatMs` stretches
 * gossipsub's heartbeat (1 s by default): a client whose one peer is the relay, which meshes every
 * subscriber, has no mesh to maintain and no one to gossip to, and grafts the relay when it subscribes
 * or is grafted; the heartbeat only re-grafts after a prune.
 */
export async function startLightClient(params: {
  relay: string
  signer: WalletSigner
  timeoutMs: number
  monitor?: boolean
  heartbeatMs?: number
}): Promise<LightClient> {
  const privateKey = await generateKeyPair('Ed25519')
  const libp2p = await createSecureChatLibp2p({
    privateKey,
    transports: [tcp()],
    ...(params.monitor === false ? { pings: false } : {}),
    ...(params.heartbeatMs === undefined ? {} : { gossipsub: { heartbeatInterval: params.heartbeatMs } }),
  })
  const peerId = libp2p.peerId.toString()
  try {
    const certificate = await createCertificate({
      signer: params.signer,
      peerId,
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
    })
    await libp2p.dial(multiaddr(params.relay), { signal: AbortSignal.timeout(params.timeoutMs) })
    return { libp2p, peerId, certificate, rooms: [] }
  } catch (err) {
    await libp2p.stop()
    throw err
  }
}

/**
 * Hands every record that reaches `client` to `onRecord` and leaves gossipsub only the rest of each RPC
 * (subscriptions, graft, prune, gossip): the client does not verify the record's signature, put it in its
 * message cache, score its sender or forward it. A relay cannot tell, with one exception: a record the
 * client never marks seen is one it would ask for again if the relay announced it by gossip (IHAVE), which
 * a relay does only to peers outside its mesh — and relays mesh every subscriber (`RELAY_MESH_MAX_PEERS`).
 */
export function drainRecords(client: LightClient, onRecord: (data: Uint8Array) => void): void {
  // Gossipsub's implementation has this method; its public interface does not declare it.
  const pubsub = client.libp2p.services.pubsub as unknown as {
    handleReceivedRpc(from: PeerId, rpc: RPC): Promise<void>
  }
  const handle = pubsub.handleReceivedRpc.bind(pubsub)
  pubsub.handleReceivedRpc = async (from: PeerId, rpc: RPC): Promise<void> => {
    for (const message of rpc.messages) {
      if (message.data !== undefined && client.rooms.some((room) => room.topic === message.topic)) {
        onRecord(message.data)
      }
    }
    await handle(from, { ...rpc, messages: [] })
  }
}

/** A wallet of its own, as each person has. */
export function newWalletSigner(): WalletSigner {
  return walletSigner({ type: 'eoa', signer: Wallet.createRandom() })
}

/**
 * A public room for the CLI's domain and the devnet's chain (what light clients' certificates name), owned by
 * `owner`: its signed manifest and its id.
 */
export async function publicRoom(
  name: string,
  owner = newWalletSigner(),
): Promise<{ manifest: SignedManifest; roomId: string }> {
  const manifest = await createManifest({
    signer: owner,
    name,
    domains: [DEFAULT_CLI_DOMAIN],
    chainIds: [DEVNET_CHAIN_ID],
  })
  return { manifest, roomId: roomIdOf(manifest.manifest) }
}

/** Subscribes `client` to the room of `manifest` (whose id is `roomId`), besides any it is in. */
export function enterRoom(client: LightClient, manifest: SignedManifest, roomId: string): string {
  const topic = roomTopic(roomId)
  const room = { id: roomId, topic, manifest }
  client.rooms.push(room)
  client.room ??= room
  client.libp2p.services.pubsub.subscribe(topic)
  return topic
}

/**
 * The presence record an idle member's `Room` sends: certificate and manifest, no acks, no key requests; `everyMs`,
 * the interval a large room's members announce (`presenceIntervalFor`), when it is stretched.
 */
export function presenceRecord(client: LightClient, everyMs?: number, room = client.room): Uint8Array {
  if (room === undefined) throw new Error('client in no room')
  const record: PresenceRecord = {
    v: WIRE_VERSION,
    type: 'presence',
    room: room.id,
    cert: client.certificate,
    manifest: room.manifest,
    atMs: Date.now(),
    ...(everyMs === undefined || everyMs <= PRESENCE_INTERVAL_MS ? {} : { every: everyMs }),
  }
  return encodeRecord(record)
}

/**
 * A message record of room `roomId` as a sender-key message goes on the wire; `ciphertext` is base64url that no
 * member can open (light clients decrypt nothing). Each call is a new record, its own id at members; a negative
 * `lamport` makes it one that every peer rejects.
 */
export function messageRecord(roomId: string, lamport: number, ciphertext: string): Uint8Array {
  return encodeRecord({
    v: WIRE_VERSION,
    type: 'message',
    room: roomId,
    lamport,
    deps: [],
    sentAtMs: Date.now(),
    payload: { enc: 'sender-key', ct: ciphertext },
  })
}
