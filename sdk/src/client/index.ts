export {
  type BundleLookup,
  type CertificateLookup,
  fetchBundle,
  fetchCertificate,
  serveCertificates,
} from './certificate-exchange.ts'
export { type ClientInit, type CreateRoomParams, createClient, SecureChatClient } from './client.ts'
export { ClientFiles, type ClientFilesInit } from './client-files.ts'
export { pingConnection } from './connection-ping.ts'
export { type DepartureNotice, DepartureNotices, followDepartures } from './departures.ts'
export { DIRECT_LISTEN_ADDRESSES, DirectConnections } from './direct-connections.ts'
export { type GossipStreamStats, openGossipStreamsAtOnce } from './gossip-streams.ts'
export { KeyBundleCache, type KeyBundleCacheInit } from './key-bundles.ts'
export { createSecureChatLibp2p, type Libp2pInit, type SecureChatLibp2p } from './libp2p.ts'
export type { PublishPacingInit } from './publish-pacing.ts'
export {
  READ_BACKPRESSURE_GOSSIPSUB_OPTIONS,
  type ReadBackpressureInit,
  type ReadBackpressureStats,
  readWithBackpressure,
} from './read-backpressure.ts'
export { fetchRelayHints, type RelayHint, serveRelayHints } from './relay-hints.ts'
export { RelayPool, type RelayPoolEvents, type RelayPoolInit } from './relays.ts'
export {
  DEFAULT_COLOCATION_THRESHOLD_PEERS,
  peerScore,
  SCORE_THRESHOLDS,
  type ScoringInit,
} from './scoring.ts'
export type { ShareFileOptions, ShareFileResult, ShareProgress } from './share-file.ts'
