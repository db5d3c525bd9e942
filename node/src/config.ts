import { readFileSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_SFU_FEEDS } from '@securechat/sdk/calls'
import { DEFAULT_COLOCATION_THRESHOLD_PEERS } from '@securechat/sdk/client'
import { READ_RECORDS_IN_FLIGHT } from '@securechat/sdk/constants'
import { GATE_HEAD_READ_INTERVAL_MS } from '@securechat/sdk/gates'
import { multiaddrTextSchema } from '@securechat/sdk/multiaddr-text'
import { z } from 'zod'
import { ANCHOR_INTERVAL_MS, ANCHOR_MAX_BATCH } from './audit/constants.ts'
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HTTP_HOST,
  DEFAULT_RELAY_LISTEN,
  DEFAULT_WEB_ROOT,
  RELAY_CONNECTIONS_PER_IP_PER_SECOND,
  RELAY_CONTROL_RECORD_BURST,
  RELAY_CONTROL_RECORDS_PER_SECOND,
  RELAY_MAX_CONNECTIONS,
  RELAY_MAX_CONNECTIONS_PER_IP,
  RELAY_MAX_CONNECTIONS_PER_PEER,
  RELAY_MAX_PENDING_CONNECTIONS,
  RELAY_MAX_RESERVATIONS,
  RELAY_MAX_RESERVATIONS_PER_IP,
  RELAY_MAX_TIER_RECORDS_PER_SECOND,
  RELAY_MAX_UNREAD_BYTES_PER_PEER,
  RELAY_RECORD_BURST,
  RELAY_RECORD_FLOOD_BAN_AFTER_MS,
  RELAY_RECORD_FLOOD_BAN_MS,
  RELAY_RECORD_FLOOD_BANS_PER_IP,
  RELAY_RECORDS_PER_SECOND,
  RELAY_RESERVATION_TTL_MS,
  RELAY_STORE_QUERIES_AT_ONCE_PER_IP,
  RELAY_STORE_QUERIES_AT_ONCE_PER_PEER,
  RELAY_STORE_QUERIES_PER_SECOND,
  RELAY_STORE_QUERIES_PER_SECOND_PER_IP,
  RELAY_STORE_QUERY_BURST,
  RELAY_STORE_QUERY_BURST_PER_IP,
} from './constants.ts'
import { ConfigError } from './errors.ts'
import { FILE_MAX_BYTES, FILE_ROOM_QUOTA_BYTES, FILE_TOTAL_QUOTA_BYTES } from './relay/file-pin-constants.ts'
import { isSecureWebSocketAddress } from './relay/http/addresses.ts'
import { peerOf } from './relay/linked-relays.ts'
import { SFU_JANUS_BIN, SFU_MAX_CALLS, SFU_MAX_PUBLISHERS, SFU_RTP_PORTS } from './relay/sfu/constants.ts'
import {
  STORE_MAX_BYTES_PER_SENDER,
  STORE_MAX_BYTES_PER_TOPIC,
  STORE_MAX_CONCURRENT_REQUESTS,
  STORE_MAX_RECORDS_PER_SENDER,
  STORE_MAX_RECORDS_PER_TOPIC,
  STORE_RETENTION_MS,
} from './store/constants.ts'

/** A linked relay names its PeerId: the relay knows a link it has by it, and dials only when there is none. */
const linkedRelaySchema = multiaddrTextSchema.refine(namesPeerId, {
  message: 'a linked relay’s address ends in /p2p/<its PeerId>, as that relay prints it at startup',
})

/**
 * Relay settings come from, in order of precedence: flags, `SECURECHAT_*` environment
 * variables, a JSON config file (`--config`), and the defaults in constants.ts.
 */
export const relayConfigSchema = z
  .object({
    listen: z.array(multiaddrTextSchema).min(1),
    announce: z.array(multiaddrTextSchema),
    peers: z.array(linkedRelaySchema),
    dataDir: z.string().min(1),
    // --- Limits on the libp2p side (issue 13; node/src/relay/limits.ts). An IP is an IPv4 address or an IPv6 /64.
    /** Inbound connections, open or being opened, at most. */
    maxConnections: z.number().int().positive(),
    /** Per IP; loopback and the `httpTrustedProxies` and `colocationWhitelist` addresses are not capped as one client. */
    maxConnectionsPerIp: z.number().int().positive(),
    maxConnectionsPerPeer: z.number().int().positive(),
    /** Bytes of gossip a neighbour may leave unread before the relay aborts its connection (relay/unread-bytes.ts). */
    maxUnreadBytesPerPeer: z.number().int().positive(),
    /** Inbound connections still in their handshake at most. */
    maxPendingConnections: z.number().int().positive(),
    /** New inbound connections per second per IP, on average (the burst is `maxConnectionsPerIp`). */
    connectionRatePerIp: z.number().positive().finite(),
    /** Circuit relay reservations at most, and per IP. */
    maxReservations: z.number().int().positive(),
    maxReservationsPerIp: z.number().int().positive(),
    /** A reservation not refreshed in this long is released (at once when its holder disconnects). At least a minute. */
    reservationTtlMs: z
      .number()
      .int()
      .min(60_000)
      .max(2 ** 31 - 1),
    /** Chat messages per device and topic per second, on average, and at once (node/src/relay/record-rates.ts). */
    recordsPerSecond: z.number().positive().finite(),
    recordBurst: z.number().int().positive(),
    /** Presence, sender keys, DM device lists and queries per device and topic, likewise. */
    controlRecordsPerSecond: z.number().positive().finite(),
    controlRecordBurst: z.number().int().positive(),
    /** A device over its rate this long without a pause is disconnected and refused, for `recordFloodBanMs`. */
    recordFloodBanAfterMs: z
      .number()
      .int()
      .min(1_000)
      .max(2 ** 31 - 1),
    recordFloodBanMs: z
      .number()
      .int()
      .min(1_000)
      .max(2 ** 31 - 1),
    /** Devices of one IP banned at once (as flooders) that get the IP banned too, for as long. */
    recordFloodBansPerIp: z.number().int().positive(),
    /** Records of one neighbour handled at once before the relay reads it no further (sdk client/read-backpressure.ts). */
    readRecordsInFlight: z.number().int().positive(),
    /** The most chat messages per second a gated room's rate tier may give one device and topic here. */
    maxTierRecordsPerSecond: z.number().positive().finite(),
    /** Peers from one IP beyond which gossipsub penalises each of them; 0: never (sdk client/scoring.ts). */
    colocationThreshold: z.number().int().nonnegative(),
    /** IPs never penalised for colocation: the operator's TLS proxy, NATs it knows. */
    colocationWhitelist: z.array(z.ipv4().or(z.ipv6())),
    json: z.boolean(),
    rpc: z.string().url().optional(),
    /**
     * Gated records wait for a read of the chain's head that started after they arrived; reads are at least this far
     * apart (docs/operators.md, Token gates). 0: one read per record that finds none to wait for.
     */
    gateHeadReadIntervalMs: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 31 - 1),
    /** Chain the `rpc` endpoint serves; asked from the endpoint at startup when absent. */
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    /** AuditLog contract on that chain, for anchoring (issue #6). */
    auditLog: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte address')
      .optional(),
    // --- Anchoring (issue #6): on when an anchoring key is given (a file here, or SECURECHAT_ANCHOR_PRIVATE_KEY).
    /** File with the anchoring account's key: hex private key or ethers JSON keystore (SECURECHAT_KEY_PASSWORD). */
    anchorKey: z.string().min(1).optional(),
    /** How often a batch is cut and anchored. */
    anchorIntervalMs: z.number().int().positive(),
    /** Most messages per batch. */
    anchorMaxBatch: z.number().int().positive(),
    /** Gas limit of each anchor transaction; estimated when absent. */
    anchorGasLimit: z.number().int().positive().optional(),
    // --- The web app over HTTP (issue #5): on when a port is given.
    /** Port of the HTTP server (web app, /config.json, /healthz, /metrics); 0 picks one. */
    httpPort: z.number().int().min(0).max(65_535).optional(),
    httpHost: z.string().min(1),
    /** The built web app. */
    webRoot: z.string().min(1),
    /** Tell the web app it may dial loopback and private addresses (devnets, LANs). */
    webAllowPrivate: z.boolean(),
    /** JSON-RPC endpoint the web app is told to use; default `rpc`. Published to every visitor. */
    webRpc: z.string().url().optional(),
    /** Ethereum mainnet JSON-RPC endpoint the web app uses for ENS names. Published to every visitor. */
    webEnsRpc: z.string().url().optional(),
    /** STUN/TURN URLs the web app's WebRTC uses; absent: the browser's defaults. */
    webIceServers: z
      .array(z.string().regex(/^(stun|stuns|turn|turns):/, 'a stun:, stuns:, turn: or turns: URL'))
      .optional(),
    /**
     * Reverse proxies in front of `--http`: only a request from one of these addresses has its client IP taken from
     * `X-Forwarded-For` (for the rate limit); anyone else's header is ignored.
     */
    httpTrustedProxies: z.array(z.ipv4().or(z.ipv6())),
    // --- TLS on the relay itself (issue 13): `wss://` on `/tls/ws` listen addresses, HTTPS on `--http`.
    /** PEM certificate chain, leaf first (`fullchain.pem`); read again on SIGHUP. */
    tlsCert: z.string().min(1).optional(),
    /** Its private key, PEM, without a passphrase (`privkey.pem`); read again on SIGHUP. */
    tlsKey: z.string().min(1).optional(),
    // --- The message store (issue 12): SQLite under dataDir unless `store` says otherwise.
    /** `sqlite` (default), `sqlite:<file>`, `postgres://…`, or `none` to keep nothing. */
    store: z.string().min(1),
    /** Records are kept this long after the relay accepted them. */
    storeMaxAgeMs: z.number().int().positive(),
    /** Records and bytes kept per topic; the oldest go first. */
    storeMaxRecords: z.number().int().positive(),
    storeMaxBytes: z.number().int().positive(),
    /** Records and bytes one sender may have stored per topic; beyond, its records are not kept. */
    storeSenderMaxRecords: z.number().int().positive(),
    storeSenderMaxBytes: z.number().int().positive(),
    // --- Store queries per peer and per IP (issue 13; node/src/relay/store-query-limits.ts), and in all.
    /** Queries per peer per second, on average, and at once. */
    storeQueriesPerSecond: z.number().positive().finite(),
    storeQueryBurst: z.number().int().positive(),
    /** Queries per IP per second, and at once; the `colocationWhitelist` and proxy addresses are not limited as one. */
    storeQueriesPerSecondPerIp: z.number().positive().finite(),
    storeQueryBurstPerIp: z.number().int().positive(),
    /** Queries under way at once per peer, per IP, and in all (beyond the last: `busy`). */
    storeQueriesAtOncePerPeer: z.number().int().positive(),
    storeQueriesAtOncePerIp: z.number().int().positive(),
    storeQueriesAtOnce: z.number().int().positive(),
    // --- Files the relay keeps for its rooms and DMs (issue 16; node/src/relay/file-pins.ts), under dataDir/files.
    /** Files are kept this long after they were pinned; the store's retention by default. */
    fileRetentionMs: z.number().int().positive(),
    /** Per file (its ciphertext), per room or DM topic, and in all; a total of 0 keeps no files. */
    fileMaxBytes: z.number().int().positive(),
    fileRoomQuota: z.number().int().positive(),
    fileTotalQuota: z.number().int().nonnegative(),
    // --- The forwarding unit for larger calls (issue 17; node/src/relay/sfu/): Janus as a child, off by default.
    /** Run Janus and offer it to room members over the SFU protocol. */
    sfu: z.boolean(),
    /** The Janus binary (Debian's `janus`). */
    sfuJanusBin: z.string().min(1),
    /** UDP ports Janus takes media on, `first-last`. */
    sfuRtpPorts: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'first-last, e.g. 20000-20199')
      .refine((range) => {
        const [first, last] = range.split('-').map(Number) as [number, number]
        return first >= 1024 && last <= 65_535 && first <= last
      }, 'ports from 1024 to 65535, the first no larger than the last'),
    /** The interface name or IP address media uses (Janus's `ice_enforce_list`); all but loopback when absent. */
    sfuInterface: z
      .string()
      .regex(/^[\w.:-]+$/, 'an interface name or an IP address')
      .max(64)
      .optional(),
    /** The public IP address Janus announces in its candidates, behind a 1:1 NAT (Janus's `nat_1_1_mapping`). */
    sfuPublicIp: z.ipv4().or(z.ipv6()).optional(),
    /** Devices in one call at most (at most the protocol's MAX_SFU_FEEDS). */
    sfuMaxPublishers: z.number().int().positive().max(MAX_SFU_FEEDS),
    /** Calls forwarded at once at most. */
    sfuMaxCalls: z.number().int().positive(),
  })
  .strict()
export type RelayConfig = z.infer<typeof relayConfigSchema>

const fileSchema = relayConfigSchema.partial().strict()

const ENV: Record<keyof RelayConfig, string> = {
  listen: 'SECURECHAT_LISTEN',
  announce: 'SECURECHAT_ANNOUNCE',
  peers: 'SECURECHAT_PEERS',
  dataDir: 'SECURECHAT_DATA_DIR',
  maxConnections: 'SECURECHAT_MAX_CONNECTIONS',
  maxConnectionsPerIp: 'SECURECHAT_MAX_CONNECTIONS_PER_IP',
  maxConnectionsPerPeer: 'SECURECHAT_MAX_CONNECTIONS_PER_PEER',
  maxUnreadBytesPerPeer: 'SECURECHAT_MAX_UNREAD_BYTES_PER_PEER',
  maxPendingConnections: 'SECURECHAT_MAX_PENDING_CONNECTIONS',
  connectionRatePerIp: 'SECURECHAT_CONNECTION_RATE_PER_IP',
  maxReservations: 'SECURECHAT_MAX_RESERVATIONS',
  maxReservationsPerIp: 'SECURECHAT_MAX_RESERVATIONS_PER_IP',
  reservationTtlMs: 'SECURECHAT_RESERVATION_TTL_MS',
  recordsPerSecond: 'SECURECHAT_RECORDS_PER_SECOND',
  recordBurst: 'SECURECHAT_RECORD_BURST',
  controlRecordsPerSecond: 'SECURECHAT_CONTROL_RECORDS_PER_SECOND',
  controlRecordBurst: 'SECURECHAT_CONTROL_RECORD_BURST',
  recordFloodBanAfterMs: 'SECURECHAT_RECORD_FLOOD_BAN_AFTER_MS',
  recordFloodBanMs: 'SECURECHAT_RECORD_FLOOD_BAN_MS',
  recordFloodBansPerIp: 'SECURECHAT_RECORD_FLOOD_BANS_PER_IP',
  readRecordsInFlight: 'SECURECHAT_READ_RECORDS_IN_FLIGHT',
  maxTierRecordsPerSecond: 'SECURECHAT_MAX_TIER_RECORDS_PER_SECOND',
  colocationThreshold: 'SECURECHAT_COLOCATION_THRESHOLD',
  colocationWhitelist: 'SECURECHAT_COLOCATION_WHITELIST',
  json: 'SECURECHAT_JSON',
  rpc: 'SECURECHAT_RPC',
  gateHeadReadIntervalMs: 'SECURECHAT_GATE_HEAD_READ_INTERVAL_MS',
  chainId: 'SECURECHAT_CHAIN_ID',
  auditLog: 'SECURECHAT_AUDIT_LOG',
  anchorKey: 'SECURECHAT_ANCHOR_KEY',
  anchorIntervalMs: 'SECURECHAT_ANCHOR_INTERVAL_MS',
  anchorMaxBatch: 'SECURECHAT_ANCHOR_MAX_BATCH',
  anchorGasLimit: 'SECURECHAT_ANCHOR_GAS_LIMIT',
  httpPort: 'SECURECHAT_HTTP_PORT',
  httpHost: 'SECURECHAT_HTTP_HOST',
  webRoot: 'SECURECHAT_WEB_ROOT',
  webAllowPrivate: 'SECURECHAT_WEB_ALLOW_PRIVATE',
  webRpc: 'SECURECHAT_WEB_RPC',
  webEnsRpc: 'SECURECHAT_WEB_ENS_RPC',
  webIceServers: 'SECURECHAT_WEB_ICE_SERVERS',
  httpTrustedProxies: 'SECURECHAT_HTTP_TRUSTED_PROXIES',
  tlsCert: 'SECURECHAT_TLS_CERT',
  tlsKey: 'SECURECHAT_TLS_KEY',
  store: 'SECURECHAT_STORE',
  storeMaxAgeMs: 'SECURECHAT_STORE_MAX_AGE_MS',
  storeMaxRecords: 'SECURECHAT_STORE_MAX_RECORDS',
  storeMaxBytes: 'SECURECHAT_STORE_MAX_BYTES',
  storeSenderMaxRecords: 'SECURECHAT_STORE_SENDER_MAX_RECORDS',
  storeSenderMaxBytes: 'SECURECHAT_STORE_SENDER_MAX_BYTES',
  storeQueriesPerSecond: 'SECURECHAT_STORE_QUERIES_PER_SECOND',
  storeQueryBurst: 'SECURECHAT_STORE_QUERY_BURST',
  storeQueriesPerSecondPerIp: 'SECURECHAT_STORE_QUERIES_PER_SECOND_PER_IP',
  storeQueryBurstPerIp: 'SECURECHAT_STORE_QUERY_BURST_PER_IP',
  storeQueriesAtOncePerPeer: 'SECURECHAT_STORE_QUERIES_AT_ONCE_PER_PEER',
  storeQueriesAtOncePerIp: 'SECURECHAT_STORE_QUERIES_AT_ONCE_PER_IP',
  storeQueriesAtOnce: 'SECURECHAT_STORE_QUERIES_AT_ONCE',
  fileRetentionMs: 'SECURECHAT_FILE_RETENTION_MS',
  fileMaxBytes: 'SECURECHAT_FILE_MAX_BYTES',
  fileRoomQuota: 'SECURECHAT_FILE_ROOM_QUOTA',
  fileTotalQuota: 'SECURECHAT_FILE_TOTAL_QUOTA',
  sfu: 'SECURECHAT_SFU',
  sfuJanusBin: 'SECURECHAT_SFU_JANUS_BIN',
  sfuRtpPorts: 'SECURECHAT_SFU_RTP_PORTS',
  sfuInterface: 'SECURECHAT_SFU_INTERFACE',
  sfuPublicIp: 'SECURECHAT_SFU_PUBLIC_IP',
  sfuMaxPublishers: 'SECURECHAT_SFU_MAX_PUBLISHERS',
  sfuMaxCalls: 'SECURECHAT_SFU_MAX_CALLS',
}

export interface RelayFlags {
  config?: string
  listen?: string[]
  announce?: string[]
  peer?: string[]
  dataDir?: string
  maxConnections?: string
  maxConnectionsPerIp?: string
  maxConnectionsPerPeer?: string
  maxUnreadBytesPerPeer?: string
  maxPendingConnections?: string
  connectionRatePerIp?: string
  maxReservations?: string
  maxReservationsPerIp?: string
  reservationTtlMs?: string
  recordsPerSecond?: string
  recordBurst?: string
  controlRecordsPerSecond?: string
  controlRecordBurst?: string
  recordFloodBanAfterMs?: string
  recordFloodBanMs?: string
  recordFloodBansPerIp?: string
  readRecordsInFlight?: string
  maxTierRecordsPerSecond?: string
  colocationThreshold?: string
  colocationWhitelist?: string[]
  json?: boolean
  rpc?: string
  gateHeadReadIntervalMs?: string
  chainId?: string
  auditLog?: string
  anchorKey?: string
  anchorIntervalMs?: string
  anchorMaxBatch?: string
  anchorGasLimit?: string
  http?: string
  httpHost?: string
  webRoot?: string
  webAllowPrivate?: boolean
  webRpc?: string
  webEnsRpc?: string
  webIceServer?: string[]
  httpTrustedProxy?: string[]
  tlsCert?: string
  tlsKey?: string
  store?: string
  storeMaxAgeMs?: string
  storeMaxRecords?: string
  storeMaxBytes?: string
  storeSenderMaxRecords?: string
  storeSenderMaxBytes?: string
  storeQueriesPerSecond?: string
  storeQueryBurst?: string
  storeQueriesPerSecondPerIp?: string
  storeQueryBurstPerIp?: string
  storeQueriesAtOncePerPeer?: string
  storeQueriesAtOncePerIp?: string
  storeQueriesAtOnce?: string
  fileRetentionMs?: string
  fileMaxBytes?: string
  fileRoomQuota?: string
  fileTotalQuota?: string
  sfu?: boolean
  sfuJanusBin?: string
  sfuRtpPorts?: string
  sfuInterface?: string
  sfuPublicIp?: string
  sfuMaxPublishers?: string
  sfuMaxCalls?: string
}

type LimitKey = keyof RelayFlags &
  keyof RelayConfig &
  (
    | 'maxConnections'
    | 'maxConnectionsPerIp'
    | 'maxConnectionsPerPeer'
    | 'maxUnreadBytesPerPeer'
    | 'maxPendingConnections'
    | 'connectionRatePerIp'
    | 'maxReservations'
    | 'maxReservationsPerIp'
    | 'reservationTtlMs'
    | 'recordsPerSecond'
    | 'recordBurst'
    | 'controlRecordsPerSecond'
    | 'controlRecordBurst'
    | 'recordFloodBanAfterMs'
    | 'recordFloodBanMs'
    | 'recordFloodBansPerIp'
    | 'readRecordsInFlight'
    | 'maxTierRecordsPerSecond'
    | 'gateHeadReadIntervalMs'
    | 'storeQueriesPerSecond'
    | 'storeQueryBurst'
    | 'storeQueriesPerSecondPerIp'
    | 'storeQueryBurstPerIp'
    | 'storeQueriesAtOncePerPeer'
    | 'storeQueriesAtOncePerIp'
    | 'storeQueriesAtOnce'
    | 'fileMaxBytes'
    | 'fileRoomQuota'
    | 'fileTotalQuota'
    | 'sfuMaxPublishers'
    | 'sfuMaxCalls'
  )

export function resolveRelayConfig(flags: RelayFlags, env: NodeJS.ProcessEnv): RelayConfig {
  if (env.SECURECHAT_HTTP_TRUST_PROXY !== undefined) {
    // It trusted X-Forwarded-For from anyone; ignoring it quietly would put every client behind the proxy in one bucket.
    throw new ConfigError('SECURECHAT_HTTP_TRUST_PROXY is no longer read', {
      hint: 'name the proxy instead: SECURECHAT_HTTP_TRUSTED_PROXIES=<its IP> (or --http-trusted-proxy <ip>)',
    })
  }
  const file = flags.config === undefined ? {} : readConfigFile(flags.config)
  const list = (value: string | undefined): string[] | undefined =>
    value === undefined || value === ''
      ? undefined
      : value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
  /** A numeric limit: flag, then environment, then file, then its default; text that is no number stays for zod. */
  const limit = (key: LimitKey, fallback: number): number | string | undefined =>
    numberOrText(flags[key] ?? (env[ENV[key]] || undefined) ?? file[key] ?? fallback)
  const candidate = {
    listen: flags.listen ?? list(env[ENV.listen]) ?? file.listen ?? DEFAULT_RELAY_LISTEN,
    announce: flags.announce ?? list(env[ENV.announce]) ?? file.announce ?? [],
    peers: flags.peer ?? list(env[ENV.peers]) ?? file.peers ?? [],
    dataDir: flags.dataDir ?? env[ENV.dataDir] ?? file.dataDir ?? DEFAULT_DATA_DIR,
    maxConnections: limit('maxConnections', RELAY_MAX_CONNECTIONS),
    maxConnectionsPerIp: limit('maxConnectionsPerIp', RELAY_MAX_CONNECTIONS_PER_IP),
    maxConnectionsPerPeer: limit('maxConnectionsPerPeer', RELAY_MAX_CONNECTIONS_PER_PEER),
    maxUnreadBytesPerPeer: limit('maxUnreadBytesPerPeer', RELAY_MAX_UNREAD_BYTES_PER_PEER),
    maxPendingConnections: limit('maxPendingConnections', RELAY_MAX_PENDING_CONNECTIONS),
    connectionRatePerIp: limit('connectionRatePerIp', RELAY_CONNECTIONS_PER_IP_PER_SECOND),
    maxReservations: limit('maxReservations', RELAY_MAX_RESERVATIONS),
    maxReservationsPerIp: limit('maxReservationsPerIp', RELAY_MAX_RESERVATIONS_PER_IP),
    reservationTtlMs: limit('reservationTtlMs', RELAY_RESERVATION_TTL_MS),
    recordsPerSecond: limit('recordsPerSecond', RELAY_RECORDS_PER_SECOND),
    recordBurst: limit('recordBurst', RELAY_RECORD_BURST),
    controlRecordsPerSecond: limit('controlRecordsPerSecond', RELAY_CONTROL_RECORDS_PER_SECOND),
    controlRecordBurst: limit('controlRecordBurst', RELAY_CONTROL_RECORD_BURST),
    recordFloodBanAfterMs: limit('recordFloodBanAfterMs', RELAY_RECORD_FLOOD_BAN_AFTER_MS),
    recordFloodBanMs: limit('recordFloodBanMs', RELAY_RECORD_FLOOD_BAN_MS),
    recordFloodBansPerIp: limit('recordFloodBansPerIp', RELAY_RECORD_FLOOD_BANS_PER_IP),
    readRecordsInFlight: limit('readRecordsInFlight', READ_RECORDS_IN_FLIGHT),
    maxTierRecordsPerSecond: limit('maxTierRecordsPerSecond', RELAY_MAX_TIER_RECORDS_PER_SECOND),
    colocationThreshold: numberOrText(
      flags.colocationThreshold ??
        (env[ENV.colocationThreshold] || undefined) ??
        file.colocationThreshold ??
        DEFAULT_COLOCATION_THRESHOLD_PEERS,
    ),
    colocationWhitelist:
      flags.colocationWhitelist ?? list(env[ENV.colocationWhitelist]) ?? file.colocationWhitelist ?? [],
    json: flags.json ?? flag(env[ENV.json]) ?? file.json ?? false,
    ...optional('rpc', flags.rpc ?? env[ENV.rpc] ?? file.rpc),
    gateHeadReadIntervalMs: limit('gateHeadReadIntervalMs', GATE_HEAD_READ_INTERVAL_MS),
    ...optional('chainId', numberOrText(flags.chainId ?? env[ENV.chainId] ?? file.chainId)),
    ...optional('auditLog', flags.auditLog ?? env[ENV.auditLog] ?? file.auditLog),
    ...optional('anchorKey', flags.anchorKey ?? env[ENV.anchorKey] ?? file.anchorKey),
    anchorIntervalMs: numberOrText(
      flags.anchorIntervalMs ?? env[ENV.anchorIntervalMs] ?? file.anchorIntervalMs ?? ANCHOR_INTERVAL_MS,
    ),
    anchorMaxBatch: numberOrText(
      flags.anchorMaxBatch ?? env[ENV.anchorMaxBatch] ?? file.anchorMaxBatch ?? ANCHOR_MAX_BATCH,
    ),
    ...optional('anchorGasLimit', numberOrText(flags.anchorGasLimit ?? env[ENV.anchorGasLimit] ?? file.anchorGasLimit)),
    ...optional('httpPort', numberOrText(flags.http ?? (env[ENV.httpPort] || undefined) ?? file.httpPort)),
    httpHost: flags.httpHost ?? (env[ENV.httpHost] || undefined) ?? file.httpHost ?? DEFAULT_HTTP_HOST,
    webRoot: flags.webRoot ?? (env[ENV.webRoot] || undefined) ?? file.webRoot ?? DEFAULT_WEB_ROOT,
    webAllowPrivate: flags.webAllowPrivate ?? flag(env[ENV.webAllowPrivate]) ?? file.webAllowPrivate ?? false,
    ...optional('webRpc', flags.webRpc ?? (env[ENV.webRpc] || undefined) ?? file.webRpc),
    ...optional('webEnsRpc', flags.webEnsRpc ?? (env[ENV.webEnsRpc] || undefined) ?? file.webEnsRpc),
    ...optional('webIceServers', flags.webIceServer ?? list(env[ENV.webIceServers]) ?? file.webIceServers),
    httpTrustedProxies: flags.httpTrustedProxy ?? list(env[ENV.httpTrustedProxies]) ?? file.httpTrustedProxies ?? [],
    ...optional('tlsCert', flags.tlsCert ?? (env[ENV.tlsCert] || undefined) ?? file.tlsCert),
    ...optional('tlsKey', flags.tlsKey ?? (env[ENV.tlsKey] || undefined) ?? file.tlsKey),
    store: flags.store ?? (env[ENV.store] || undefined) ?? file.store ?? 'sqlite',
    storeMaxAgeMs: numberOrText(
      flags.storeMaxAgeMs ?? (env[ENV.storeMaxAgeMs] || undefined) ?? file.storeMaxAgeMs ?? STORE_RETENTION_MS,
    ),
    storeMaxRecords: numberOrText(
      flags.storeMaxRecords ??
        (env[ENV.storeMaxRecords] || undefined) ??
        file.storeMaxRecords ??
        STORE_MAX_RECORDS_PER_TOPIC,
    ),
    storeMaxBytes: numberOrText(
      flags.storeMaxBytes ?? (env[ENV.storeMaxBytes] || undefined) ?? file.storeMaxBytes ?? STORE_MAX_BYTES_PER_TOPIC,
    ),
    storeSenderMaxRecords: numberOrText(
      flags.storeSenderMaxRecords ??
        (env[ENV.storeSenderMaxRecords] || undefined) ??
        file.storeSenderMaxRecords ??
        STORE_MAX_RECORDS_PER_SENDER,
    ),
    storeSenderMaxBytes: numberOrText(
      flags.storeSenderMaxBytes ??
        (env[ENV.storeSenderMaxBytes] || undefined) ??
        file.storeSenderMaxBytes ??
        STORE_MAX_BYTES_PER_SENDER,
    ),
    storeQueriesPerSecond: limit('storeQueriesPerSecond', RELAY_STORE_QUERIES_PER_SECOND),
    storeQueryBurst: limit('storeQueryBurst', RELAY_STORE_QUERY_BURST),
    storeQueriesPerSecondPerIp: limit('storeQueriesPerSecondPerIp', RELAY_STORE_QUERIES_PER_SECOND_PER_IP),
    storeQueryBurstPerIp: limit('storeQueryBurstPerIp', RELAY_STORE_QUERY_BURST_PER_IP),
    storeQueriesAtOncePerPeer: limit('storeQueriesAtOncePerPeer', RELAY_STORE_QUERIES_AT_ONCE_PER_PEER),
    storeQueriesAtOncePerIp: limit('storeQueriesAtOncePerIp', RELAY_STORE_QUERIES_AT_ONCE_PER_IP),
    storeQueriesAtOnce: limit('storeQueriesAtOnce', STORE_MAX_CONCURRENT_REQUESTS),
    fileRetentionMs: numberOrText(
      flags.fileRetentionMs ?? (env[ENV.fileRetentionMs] || undefined) ?? file.fileRetentionMs,
    ),
    fileMaxBytes: limit('fileMaxBytes', FILE_MAX_BYTES),
    fileRoomQuota: limit('fileRoomQuota', FILE_ROOM_QUOTA_BYTES),
    fileTotalQuota: limit('fileTotalQuota', FILE_TOTAL_QUOTA_BYTES),
    sfu: flags.sfu ?? flag(env[ENV.sfu]) ?? file.sfu ?? false,
    sfuJanusBin: flags.sfuJanusBin ?? (env[ENV.sfuJanusBin] || undefined) ?? file.sfuJanusBin ?? SFU_JANUS_BIN,
    sfuRtpPorts: flags.sfuRtpPorts ?? (env[ENV.sfuRtpPorts] || undefined) ?? file.sfuRtpPorts ?? SFU_RTP_PORTS,
    ...optional('sfuInterface', flags.sfuInterface ?? (env[ENV.sfuInterface] || undefined) ?? file.sfuInterface),
    ...optional('sfuPublicIp', flags.sfuPublicIp ?? (env[ENV.sfuPublicIp] || undefined) ?? file.sfuPublicIp),
    sfuMaxPublishers: limit('sfuMaxPublishers', SFU_MAX_PUBLISHERS),
    sfuMaxCalls: limit('sfuMaxCalls', SFU_MAX_CALLS),
  }
  // Files follow the history unless told otherwise: a file outliving the messages that name it helps nobody.
  candidate.fileRetentionMs ??= candidate.storeMaxAgeMs
  const parsed = relayConfigSchema.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = String(issue?.path[0] ?? '')
    throw new ConfigError(`invalid relay setting ${field}: ${issue?.message ?? ''}`, {
      details: { field, received: (candidate as Record<string, unknown>)[field] },
      hint: `fix --${flagName(field)} (or ${ENV[field as keyof RelayConfig] ?? 'the config file'})`,
    })
  }
  return checkTls(parsed.data)
}

/** `--tls-cert` and `--tls-key` come together, and something must serve TLS with them. */
function checkTls(config: RelayConfig): RelayConfig {
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    const missing = config.tlsCert === undefined ? 'tlsCert' : 'tlsKey'
    throw new ConfigError(`--${flagName(missing)} is missing: TLS needs both a certificate and its key`, {
      details: { field: missing },
      hint: `pass --tls-cert <fullchain.pem> and --tls-key <privkey.pem> (or ${ENV.tlsCert} and ${ENV.tlsKey})`,
    })
  }
  if (config.tlsCert !== undefined && config.httpPort === undefined && !config.listen.some(isSecureWebSocketAddress)) {
    throw new ConfigError('--tls-cert is given, but nothing would serve TLS with it', {
      details: { listen: config.listen },
      hint: 'add a wss:// listener (--listen /ip4/0.0.0.0/tcp/443/tls/ws) and/or the HTTPS server (--http <port>)',
    })
  }
  return config
}

/** The command-line flag of a config key: `dataDir` is `--data-dir`; four keys are named differently. */
function flagName(field: string): string {
  const renamed: Record<string, string> = {
    peers: 'peer',
    httpPort: 'http',
    webIceServers: 'web-ice-server',
    httpTrustedProxies: 'http-trusted-proxy',
  }
  return renamed[field] ?? field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** A yes/no environment variable: `1` or `true` is yes, anything else set is no. */
function flag(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : value === '1' || value === 'true'
}

/** Numbers from flags and the environment arrive as text; a non-number stays text for the schema to name. */
function numberOrText(value: string | number | undefined): number | string | undefined {
  if (value === undefined || typeof value === 'number') return value
  return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

/** Whether a linked relay's address ends in a PeerId that parses (`peerOf` reads it as the relay does). */
function namesPeerId(text: string): boolean {
  const peer = peerOf(text)
  if (peer === undefined) return false
  try {
    peerIdFromString(peer)
    return true
  } catch {
    return false
  }
}

function readConfigFile(path: string): z.infer<typeof fileSchema> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    throw new ConfigError(`cannot read the config file ${path}${missing ? ': there is no such file' : ''}`, {
      cause: err,
      hint: missing ? 'check the path given to --config' : 'check that the relay’s user may read it',
    })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`the config file ${path} is not JSON: ${String(err)}`, {
      cause: err,
      hint: 'it must be a JSON object of settings',
    })
  }
  const parsed = fileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const key = issue?.path[0] === undefined ? '' : `${String(issue.path[0])}: `
    throw new ConfigError(`invalid config file ${path}: ${key}${issue?.message ?? ''}`, {
      details: { path: issue?.path },
      hint: `allowed keys: ${Object.keys(ENV).join(', ')}`,
    })
  }
  return parsed.data
}
