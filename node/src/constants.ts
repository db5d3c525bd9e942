/** Defaults of the relay node and CLI. Docs point here instead of repeating values. */

/** Relay slots for browsers behind NAT; the library's 15 is too few for a community. */
export const RELAY_MAX_RESERVATIONS = 1024

/** Connections a relay keeps open at most. */
export const RELAY_MAX_CONNECTIONS = 2048

/** A relay leaves a room topic no connected peer uses any more after this long. */
export const RELAY_TOPIC_IDLE_MS = 60_000

/** Default listen addresses: TCP for Node peers, WebSockets for browsers. Loopback only. */
export const DEFAULT_RELAY_LISTEN = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']

/** Default relay data directory (peer key). */
export const DEFAULT_DATA_DIR = '.securechat'

/** Time a CLI command waits for the network before giving up with a hint. */
export const CLI_NETWORK_TIMEOUT_MS = 15_000

/** Time `send` waits after publishing, so the record leaves before the process exits. */
export const SEND_FLUSH_MS = 300
