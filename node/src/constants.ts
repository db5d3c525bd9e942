/** Defaults of the relay node and CLI. Docs point here instead of repeating values. */
import { resolve } from 'node:path'
import { SEND_RECORD_BURST, SEND_RECORDS_PER_SECOND } from '@securechat/sdk/constants'
import { HISTORY_REQUESTS_AT_ONCE_PER_PEER } from '@securechat/sdk/history'

/*
 * The relay's limits on its libp2p side (`node/src/relay/limits.ts`), sized for a community relay of a few thousand
 * clients; docs/operators.md ("Limits") says why each is what it is. An "IP" is an IPv4 address or an IPv6 /64.
 */

/** Inbound connections, open or being opened, a relay holds at most: a few thousand clients, one connection each. */
export const RELAY_MAX_CONNECTIONS = 4096

/**
 * Inbound connections from one IP at most (being opened included): the fifty people of a room behind one carrier NAT
 * or office proxy fit (the old 32 left eighteen of fifty out), with room for their second devices; an attacker needs
 * `RELAY_MAX_CONNECTIONS / RELAY_MAX_CONNECTIONS_PER_IP` (64) addresses to fill the relay. A larger NAT the operator
 * knows is named in `--colocation-whitelist` instead.
 */
export const RELAY_MAX_CONNECTIONS_PER_IP = 64

/** Inbound connections of one PeerId at most: one, plus the old ones of a client that reconnected on a new network. */
export const RELAY_MAX_CONNECTIONS_PER_PEER = 4

/**
 * Bytes of gossip a neighbour may leave unread on its stream before the relay aborts its connection
 * (`relay/unread-bytes.ts`). A 1,000-member room's first sender key is 1.7 MiB to every member and its presence
 * 0.5 MiB a member a minute (docs/benchmarks.md): a member on a slow link a minute behind such a room stays under it.
 */
export const RELAY_MAX_UNREAD_BYTES_PER_PEER = 8 * 2 ** 20

/** How often the relay looks for a neighbour past {@link RELAY_MAX_UNREAD_BYTES_PER_PEER}. */
export const RELAY_UNREAD_BYTES_CHECK_INTERVAL_MS = 1_000

/**
 * Inbound connections being opened (transport up, Noise and Yamux not negotiated yet) at most. An honest handshake
 * takes a few round trips; one that stalls holds its place for libp2p's inbound upgrade timeout (10 s).
 */
export const RELAY_MAX_PENDING_CONNECTIONS = 256

/**
 * New inbound connections one IP may open per second, on average; its burst is `RELAY_MAX_CONNECTIONS_PER_IP`, so a
 * whole NAT reconnects at once after a relay restart, while a loop of connect-and-leave costs a handshake per half
 * second.
 */
export const RELAY_CONNECTIONS_PER_IP_PER_SECOND = 2

/** IPs whose connection rate the relay tracks at most; idle ones are forgotten first. */
export const RELAY_CONNECTION_RATE_MAX_IPS = 10_000

/**
 * Circuit relay slots, for browsers behind NAT (libp2p's default of 15 is too few for a community). A reservation
 * lives only while its holder is connected, so there can be no more than connections.
 */
export const RELAY_MAX_RESERVATIONS = RELAY_MAX_CONNECTIONS

/**
 * Circuit relay reservations held by peers of one IP at most: as many as its connections. Every browser reserves a
 * slot on each relay it uses (Node clients none), and one refused has no circuit address there: members cannot reach
 * it for a direct WebRTC connection. A slot lives only while its holder is connected, so the connection cap holds
 * reservations too; this one matters when an operator lowers it below that.
 */
export const RELAY_MAX_RESERVATIONS_PER_IP = RELAY_MAX_CONNECTIONS_PER_IP

/**
 * A reservation not refreshed in this long is released (libp2p's default is 2 h; its client refreshes 5 min before
 * expiry, so a connected browser refreshes every 25 min).
 */
export const RELAY_RESERVATION_TTL_MS = 30 * 60_000

/*
 * Records per second per device and topic (`node/src/relay/record-rates.ts`). A device is the gossip `from`, the key
 * that signed the record. Chat messages and control records (presence, sender keys, DM device lists and queries) have
 * separate budgets: a flood of messages never silences its sender's presence, and the other way round.
 */

/**
 * Chat messages one device may send to one topic per second, on average: no person types this fast, and the sdk
 * paces everything a device publishes (re-publishes too) at half of it. History a client catches up on comes over
 * the store protocol, not gossip. Low enough that what one wallet may send ({@link RELAY_RECORD_WALLET_FACTOR} times
 * this) stays well below what a busy relay validates — about 100 records a second on 2 shared cores at a load of
 * 20–30 — so a wallet flooding valid records is over its rate, dropped before validation and banned, instead of
 * only slowed by the relay's reading (at 100 a second, the former default, a wallet's 200 were more than the relay
 * could validate, and a flood within them was never dropped). A flood (the sybils sent ~630 records a second
 * each) is far above it.
 */
export const RELAY_RECORDS_PER_SECOND = 2 * SEND_RECORDS_PER_SECOND

/**
 * Chat messages one device may send to one topic at once: 20 s of its rate. The sdk paces what it publishes at half
 * of both (`SEND_RECORDS_PER_SECOND`, `SEND_RECORD_BURST`): records sent apart can arrive bunched (a relay reads a
 * neighbour no faster than it handles its records, and on a loaded machine that may take seconds), and a device
 * sending messages in a loop (a bot, an import) must never be taken for a flooder.
 */
export const RELAY_RECORD_BURST = 2 * SEND_RECORD_BURST

/**
 * Certificates a relay asks of its neighbours at once for senders it has not verified yet (their records wait for
 * them instead of being dropped): far more than honest newcomers arrive at once; a flood of unknown senders beyond it
 * is dropped without asking.
 */
export const RELAY_MAX_CERTIFICATE_FETCHES = 64

/**
 * Control records (presence, sender keys; on DM topics device lists and queries) per device and topic per second, on
 * average. A member announces itself every 15 s; a sender key goes to 32 members per record, so a rotation in a room
 * of 1,000 is 32 records — the burst holds three of them at once.
 */
export const RELAY_CONTROL_RECORDS_PER_SECOND = 5
export const RELAY_CONTROL_RECORD_BURST = 100

/**
 * Typing and read records per device and topic per second, on average, and at once: a budget of their own, so typing
 * never takes a token a chat message needs. An honest device sends a typing record every `TYPING_SEND_INTERVAL_MS`
 * (3 s) and a read position every `READ_SEND_DELAY_MS` (1 s) at most; a flood past this is dropped like any other.
 */
export const RELAY_SIGNAL_RECORDS_PER_SECOND = 2
export const RELAY_SIGNAL_RECORD_BURST = 10

/**
 * A device whose records are dropped for this long without a pause of {@link RELAY_RECORD_FLOOD_PAUSE_MS} is a
 * flooder, not a burst: the relay disconnects it and refuses its PeerId for {@link RELAY_RECORD_FLOOD_BAN_MS}.
 */
export const RELAY_RECORD_FLOOD_BAN_AFTER_MS = 10_000
export const RELAY_RECORD_FLOOD_BAN_MS = 10 * 60_000

/**
 * Devices of one address banned as flooders at the same time that get the address banned too, for as long (an
 * attacker makes a new PeerId per connection for nothing). Three, not one: one flooder behind a NAT the operator did
 * not name must not cost every client behind it.
 */
export const RELAY_RECORD_FLOOD_BANS_PER_IP = 3

/**
 * The most chat messages per second a gated room's rate tier (docs/token-gates.md, Rate tiers) may give one device
 * and topic at this relay, whatever the room's manifest says: ten times the relay's own rate. The burst is in the
 * same proportion to the rate as `RELAY_RECORD_BURST` to `RELAY_RECORDS_PER_SECOND`.
 */
export const RELAY_MAX_TIER_RECORDS_PER_SECOND = 10 * RELAY_RECORDS_PER_SECOND

/**
 * The devices of one wallet share a budget per topic too, this many times one device's (`--records-per-second`,
 * `--record-burst` and their control counterparts scale both): a person's phone, laptop and browser together stay far
 * below it, while ten devices certified by one wallet no longer get ten budgets — each was under its own limit, so a
 * wallet's sybils could push the relay's whole capacity into a room (test/sybil-flood.test.ts).
 */
export const RELAY_RECORD_WALLET_FACTOR = 2

/** A device with no record dropped for this long is no longer over its limit (its streak of drops ends). */
export const RELAY_RECORD_FLOOD_PAUSE_MS = 1_000

/** Device-and-topic buckets tracked at most per budget; idle ones are forgotten first. */
export const RELAY_RECORD_RATE_MAX_BUCKETS = 100_000

/** Devices refused for flooding, remembered at most (the oldest ban goes first). */
export const RELAY_MAX_BANNED_PEERS = 10_000

/*
 * Store queries (`/securechat/store/1.0.0`: catch-up, gap repair) per peer and per IP (`node/src/relay/store-query-limits.ts`),
 * within the relay-wide `STORE_MAX_CONCURRENT_REQUESTS`. An honest device asks one query at a time per room it catches
 * up, at most `HISTORY_REQUESTS_AT_ONCE_PER_PEER` at once, and backs off when refused; a catch-up of 10,000 messages is
 * about 25 queries. A peer querying in a loop is held to the rate, and cannot take the relay-wide places alone.
 */

/** Store queries one peer may make per second, on average. */
export const RELAY_STORE_QUERIES_PER_SECOND = 20

/** Store queries one peer may make at once: a device returning to a hundred rooms catches up on all of them. */
export const RELAY_STORE_QUERY_BURST = 400

/** Store queries the peers of one IP may make per second, and at once (a household or an office behind one NAT). */
export const RELAY_STORE_QUERIES_PER_SECOND_PER_IP = 5 * RELAY_STORE_QUERIES_PER_SECOND
export const RELAY_STORE_QUERY_BURST_PER_IP = 5 * RELAY_STORE_QUERY_BURST

/** Store queries of one peer under way at once; twice what the sdk has under way to one relay. */
export const RELAY_STORE_QUERIES_AT_ONCE_PER_PEER = 2 * HISTORY_REQUESTS_AT_ONCE_PER_PEER

/**
 * Store queries of the peers of one IP under way at once: one for each client the per-IP connection cap lets in (a
 * carrier NAT's fifty members joining one room after a relay restart each catch up at once; at 16, 29 of their
 * queries were refused in a burst), and half the relay-wide places (`STORE_MAX_CONCURRENT_REQUESTS`).
 */
export const RELAY_STORE_QUERIES_AT_ONCE_PER_IP = RELAY_MAX_CONNECTIONS_PER_IP

/** What a query refused for being one too many at once is told to wait before asking again. */
export const RELAY_STORE_QUERY_RETRY_AFTER_MS = 1_000

/** Peers and IPs whose store-query rate the relay tracks at most; idle ones are forgotten first. */
export const RELAY_STORE_QUERY_RATE_MAX_CLIENTS = 10_000

/** Refusals are logged once per offender and reason in an interval this long; the rest are counted in `/metrics`. */
export const RELAY_REFUSAL_LOG_INTERVAL_MS = 60_000

/** Refusal lines logged per interval at most (then one summary line per reason). */
export const RELAY_REFUSAL_LOG_MAX_OFFENDERS = 100

/**
 * Peers a relay keeps in a topic's gossip mesh at most (gossipsub's `Dhi`, 12 by default, past which it prunes). Its
 * clients reach a room through it alone, so each one left out of its mesh got records only from gossip's lazy
 * IHAVE/IWANT rounds, to a random few per heartbeat: with 20 clients in a room behind one address, members left out
 * still knew only half of the others after a minute. As many as connections: every member stays in.
 */
export const RELAY_MESH_MAX_PEERS = RELAY_MAX_CONNECTIONS

/**
 * The most one stream's receive window grows to on a relay (yamux's default: 16 MiB). A neighbour the relay stopped
 * reading (sdk `read-backpressure.ts`) may still send one window; 16 MiB from each of ten flooders was most of the
 * relay's 686 MiB, and a paused stream's buffer past 4 MiB aborts the stream. 1 MiB still carries 10 MiB/s per stream
 * at 100 ms round trip.
 */
export const RELAY_MAX_STREAM_WINDOW_BYTES = 1024 * 1024

/**
 * How much of one neighbour's subscriptions a relay keeps, in gossipsub's measure (each topic's length plus 1,024
 * bytes): gossipsub's own default, 1 MiB (~950 topics), for clients — a person's rooms and DM topics, with room to
 * spare, and what a stranger can make the relay hold — and {@link LINKED_RELAY_TOPIC_BYTES} for the relays named with
 * `--peer` (`topic-budgets.ts`).
 */
export const PEER_TOPIC_BYTES = 1024 * 1024

/**
 * How much of a `--peer` relay's subscriptions a relay keeps: 64 MiB, ~60,000 topics. A linked relay tells of every
 * room and DM topic its network carries — an inbox for each wallet online and a topic for each pair of devices that
 * write to each other — so a network with a few hundred members online passed the ~950 topics of a client's budget,
 * and linked relays no longer knew each other's later rooms and inboxes: members of one could not reach members of
 * another there.
 */
export const LINKED_RELAY_TOPIC_BYTES = 64 * 1024 * 1024

/**
 * The most topics one subscription message of a relay names. Gossipsub sends its whole list in one message when a
 * neighbour connects, and a neighbour drops a message over 4 MiB whole (it-length-prefixed's default): ~40,000 room
 * topics, which a network of linked relays may carry.
 */
export const TOPICS_PER_SUBSCRIPTION_MESSAGE = 1_000

/**
 * A relay leaves a room topic after this long with none of its clients in it and no member heard in it (four
 * presence intervals), and a DM topic no connected peer uses any more.
 */
export const RELAY_TOPIC_IDLE_MS = 60_000

/**
 * Moderation events a relay keeps, in all, of the rooms it left while idle, for when it joins them again: an event's
 * record is a few hundred bytes, so tens of MiB at most, however many rooms an owner makes and moderates to fill it.
 * Past it the room left longest ago is forgotten; the stores still hold its log for members' catch-ups.
 */
export const RELAY_LEFT_ROOM_EVENTS_KEPT = 32_768

/**
 * Moderation events a relay restarted on its data dir reads from its store per page as it takes a room's log up
 * (`relay/stored-room-log.ts`): judging one recovers a signature (some milliseconds), so a page holds the relay
 * about a tenth of a second before it lets the event loop go.
 */
export const RELAY_STORED_LOG_PAGE_EVENTS = 64

/** The lock file in a relay's data dir (its pid inside): one relay per data dir (`securechat relay`). */
export const RELAY_LOCK_FILE_NAME = 'relay.lock'

/** Default listen addresses: TCP for Node peers, WebSockets for browsers. Loopback only. */
export const DEFAULT_RELAY_LISTEN = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']

/** Chain id of the local development chain (Hardhat): what the CLI's certificates and rooms name by default. */
export const DEVNET_CHAIN_ID = 31337

/** SIWE domain the CLI signs certificates for (a terminal has no web origin): the default of `--domain`. */
export const DEFAULT_CLI_DOMAIN = 'localhost'

/** Default relay data directory (peer key). */
export const DEFAULT_DATA_DIR = '.securechat'

/** Time a CLI command waits for the network before giving up with a hint. */
export const CLI_NETWORK_TIMEOUT_MS = 15_000

/**
 * Longest `history` waits, after its catch-up, for the gaps it found to be filled or given up (the sdk gives a
 * message up 20 s after a later one named it): what it printed is then complete as far as anyone holds it.
 */
export const HISTORY_GAPS_WAIT_MS = 30_000

/** Time `send` waits after publishing, so the record leaves before the process exits. */
export const SEND_FLUSH_MS = 300

/** Interface the devnet chain binds to: loopback, so the publicly known dev keys are never reachable from outside. */
export const DEVNET_HOST = '127.0.0.1'

/** `startChain` gives up when the Hardhat node has not answered `eth_chainId` after this long. */
export const CHAIN_START_TIMEOUT_MS = 30_000

/** Pause between two `eth_chainId` probes while the node starts. */
export const CHAIN_PROBE_INTERVAL_MS = 100

/** One `eth_chainId` probe is abandoned after this long. */
export const CHAIN_PROBE_TIMEOUT_MS = 1_000

/** `stop()` sends SIGTERM, then SIGKILL if the node is still running after this long. */
export const CHAIN_STOP_TIMEOUT_MS = 5_000

/** Lines of the node's output kept to explain a failed start. */
export const CHAIN_OUTPUT_TAIL_LINES = 40

/**
 * Hardhat's standard test mnemonic. The accounts it derives are PUBLIC knowledge: anyone can spend from them on any
 * network. Local use only.
 */
export const HARDHAT_DEV_MNEMONIC = 'test test test test test test test test test test test junk'

/** BIP-44 path of Ethereum account `i` is `${HARDHAT_DEV_DERIVATION_PATH}/i`. */
export const HARDHAT_DEV_DERIVATION_PATH = "m/44'/60'/0'/0"

/** Accounts the Hardhat node funds. */
export const HARDHAT_DEV_ACCOUNT_COUNT = 20

/** ERC-20 units (at 18 decimals) `mintDemoTokens` gives each holder. */
export const DEMO_ERC20_AMOUNT = 1_000n

/** ERC-1155 token id `mintDemoTokens` mints. */
export const DEMO_ERC1155_ID = 1n

/** ERC-1155 amount of `DEMO_ERC1155_ID` `mintDemoTokens` gives each holder. */
export const DEMO_ERC1155_AMOUNT = 10n

/** The relay asks its `--rpc` endpoint for the chain id (when `--chain-id` is not given) for this long at startup. */
export const RPC_PROBE_TIMEOUT_MS = 5_000

/** `npm start`: JSON-RPC port of the local chain (env `SECURECHAT_CHAIN_PORT`). */
export const DEVNET_CHAIN_PORT = 8545

/** `npm start`: relay TCP port for Node peers (env `SECURECHAT_RELAY_TCP_PORT`). */
export const DEVNET_RELAY_TCP_PORT = 4001

/** `npm start`: relay WebSocket port for browsers (env `SECURECHAT_RELAY_WS_PORT`). */
export const DEVNET_RELAY_WS_PORT = 4002

/** `npm start`: where the relay key, the invites and `devnet.json` go (env `SECURECHAT_DEVNET_DIR`). */
export const DEVNET_DIR = '.securechat/devnet'

/**
 * `securechat dm` waits up to this long for each device's receipt, so that it can print `delivered`,
 * and so that a new session's answer arrives and the next run sends on the pair's topic instead of
 * repeating the handshake on the inbox. A device that is offline stays `sent` (a relay keeps the message).
 */
export const DM_ANSWER_WAIT_MS = 2_000

/** `securechat relay --http`: interface the web app's HTTP server binds to. Loopback: put a TLS proxy in front. */
export const DEFAULT_HTTP_HOST = '127.0.0.1'

/** Where the built web app is (`npm run build -w @securechat/web`), resolved from this package. */
export const DEFAULT_WEB_ROOT = resolve(import.meta.dirname, '../../web/dist')

/** HTTP requests per second one client IP may make, on average. */
export const HTTP_RATE_LIMIT_PER_SECOND = 50

/** HTTP requests one client IP may make at once (the token bucket's size). */
export const HTTP_RATE_LIMIT_BURST = 100

/** Client IPs the HTTP rate limiter tracks at most; the idle ones are forgotten first. */
export const HTTP_RATE_LIMIT_MAX_CLIENTS = 10_000

/** The HTTP server drops a client that has not sent its request headers after this long (slow clients hold sockets). */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000

/** The HTTP server drops a client that has not sent its whole request after this long. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000

/**
 * `POST /audit/leaf-lists` requests the HTTP server reads and checks at once; more are answered 503 (each holds a
 * body of up to a MiB and a few chain reads).
 */
export const HTTP_LEAF_LISTS_IN_FLIGHT = 4

/** Random bytes of the CSP nonce of each HTTP response: 128 bits, as CSP asks. */
export const HTTP_NONCE_BYTES = 16

/** `npm start`: port of the web app (env `SECURECHAT_HTTP_PORT`). */
export const DEVNET_HTTP_PORT = 8080
