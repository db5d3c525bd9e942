import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, type GossipsubOpts, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { createLibp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import { IDONTWANT_MIN_DATA_BYTES, PING_INTERVAL_MS, PING_TIMEOUT_MS } from '../constants.ts'
import { listConnectionsInOnePass } from './connection-list.ts'
import { forgetGossipPeersOnDisconnect } from './disconnected-gossip-peers.ts'
import { paceValidation } from './paced-validation.ts'
import { type PublishPacingInit, pacePublishing } from './publish-pacing.ts'
import { keepPeersOnReplacedStreamErrors } from './replaced-gossip-streams.ts'
import { SCORE_THRESHOLDS, type ScoringInit, scoreParams, scoreSecureChatTopics } from './scoring.ts'
import { spreadPings } from './spread-pings.ts'
import { defaultTransports } from './transports.node.ts'

export type SecureChatLibp2p = Libp2p<{ pubsub: GossipSub; identify: unknown; ping: unknown }>

export interface Libp2pInit {
  privateKey: PrivateKey
  listen?: string[]
  announce?: string[]
  transports?: NonNullable<Libp2pOptions['transports']>
  /** ICE servers of the default browser WebRTC transport. */
  iceServers?: RTCIceServer[]
  connectionGater?: ConnectionGater
  gossipsub?: Partial<GossipsubOpts>
  /** How fast this node publishes to one topic; half the relays' default limit unless given. */
  publishPacing?: PublishPacingInit
  /** The operator's choices in peer scoring (a relay's); clients keep the defaults of `scoring.ts`. */
  scoring?: ScoringInit
  connectionManager?: Libp2pOptions['connectionManager']
  /**
   * Pings of every connection (`spread-pings.ts`; on by default). The scale benchmark turns them off on its light
   * clients, a thousand to a process, where a busy process would time out its own pings; the relay still pings them.
   */
  pings?: boolean
  /**
   * The most one stream's receive window grows to (yamux's `maxStreamWindowSize`; its default is 16 MiB): what a
   * neighbour may send on a stream that this node has stopped reading (`read-backpressure.ts`).
   */
  maxStreamWindowBytes?: number
  /** Further services, such as a relay's circuit relay server. */
  services?: ServiceFactoryMap
}

/**
 * The libp2p node every SecureChat peer runs. Gossipsub signs every record with the PeerId key
 * (StrictSign), so a record's `from` is proven before any certificate is looked at.
 */
export async function createSecureChatLibp2p(init: Libp2pInit): Promise<SecureChatLibp2p> {
  const libp2p = (await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen ?? [], announce: init.announce ?? [] },
    transports:
      init.transports ?? defaultTransports(init.iceServers === undefined ? {} : { iceServers: init.iceServers }),
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux(
        init.maxStreamWindowBytes === undefined
          ? {}
          : { streamOptions: { maxStreamWindowSize: init.maxStreamWindowBytes } },
      ),
    ],
    ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
    ...(init.connectionManager === undefined ? {} : { connectionManager: init.connectionManager }),
    // Ours instead (`spread-pings.ts`): libp2p's pings every connection in one turn of the event loop.
    connectionMonitor: { enabled: false },
    services: {
      ...init.services,
      // A peer slow to answer a ping for a moment (a busy relay, a browser in a background tab) is not cut off, and
      // one ping ends before the next starts (`PING_INTERVAL_MS`).
      ...(init.pings === false
        ? {}
        : { pings: spreadPings({ intervalMs: PING_INTERVAL_MS, timeoutMs: PING_TIMEOUT_MS }) }),
      identify: identify(),
      // Answering a ping gives up after as long as asking waits (libp2p's 10 s reset the stream of a ping that the
      // asker still waited for, and the asker cut the connection for it).
      ping: ping({ timeout: PING_TIMEOUT_MS }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        // A room may have no neighbour yet (the relay is still subscribing): presence published
        // then is lost for that instant and re-announced once neighbours appear; a message waits
        // for a neighbour instead (`Room.send`).
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // IDONTWANT pays off for large messages only; room records are around 600 B and sending
        // one control message per record to every mesh peer cost the relay a quarter of its time.
        idontwantMinDataSize: IDONTWANT_MIN_DATA_BYTES,
        // One scoring for relays and clients (scoring.ts): invalid records cost the forwarder,
        // many honest peers behind one address cost nothing unless the operator says otherwise.
        scoreParams: scoreParams(init.scoring),
        scoreThresholds: SCORE_THRESHOLDS,
        ...init.gossipsub,
      }),
    },
  })) as unknown as SecureChatLibp2p
  // Each inbound connection lists every connection twice: in one pass, not in the square of their number.
  listConnectionsInOnePass(libp2p)
  scoreSecureChatTopics(libp2p.services.pubsub)
  // A neighbour back on a new connection is not forgotten when its old one dies (`replaced-gossip-streams.ts`).
  keepPeersOnReplacedStreamErrors(libp2p.services.pubsub)
  // A neighbour that never identified is forgotten too when it goes (`disconnected-gossip-peers.ts`).
  forgetGossipPeersOnDisconnect(libp2p)
  // Before anything installs a validator: every one is paced (`paced-validation.ts`).
  paceValidation(libp2p.services.pubsub)
  // What this device publishes, per topic, under the relays' limits (`publish-pacing.ts`).
  pacePublishing(libp2p.services.pubsub, init.publishPacing)
  return libp2p
}
