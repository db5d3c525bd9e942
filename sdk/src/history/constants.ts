/**
 * Bounds of the history protocol (issue 12): what a relay's store answers and what a client
 * accepts. Docs point here instead of repeating values.
 */
import { MAX_MESSAGE_BYTES } from '../constants.ts'

/** libp2p protocol id: query a topic's stored records, or fetch records by message id. */
export const STORE_PROTOCOL = '/securechat/store/1.0.0'

/**
 * libp2p protocol id a device answers for its rooms' peers: the same frames, `fetch` by id only,
 * from the recent records it received (`recent-records.ts`), for gap repair.
 */
export const RECENT_PROTOCOL = '/securechat/recent/1.0.0'

/** Fetches by id a device answers at once (each from memory). */
export const MAX_RECENT_STREAMS = 8

/** Version of the request and response frames (`v`). */
export const HISTORY_WIRE_VERSION = 1

/** Records in one page when the request names no `limit`. */
export const HISTORY_PAGE_RECORDS = 100

/** Most records one page may carry, whatever the request asks. */
export const MAX_HISTORY_PAGE_RECORDS = 500

/** Most message ids one fetch request may name. */
export const MAX_HISTORY_FETCH_IDS = 256

/** Most record types one query may filter on. */
export const MAX_HISTORY_TYPES = 8

/** Longest record type name (`message`, `keys`, `presence`, DM record types). */
export const MAX_HISTORY_TYPE_CHARS = 16

/** Longest topic a request may name (room topics are 83 characters, DM topics shorter). */
export const MAX_HISTORY_TOPIC_CHARS = 256

/** Longest opaque page cursor. */
export const MAX_HISTORY_CURSOR_CHARS = 256

/** Largest request frame: a fetch of {@link MAX_HISTORY_FETCH_IDS} ids fits with room to spare. */
export const MAX_HISTORY_REQUEST_BYTES = 32 * 1024

/** Largest response frame. A server stops filling a page before it would pass this. */
export const MAX_HISTORY_RESPONSE_BYTES = 4 * 1024 * 1024

/** Largest gossip payload a stored record carries (the same bound as live records). */
export const MAX_HISTORY_DATA_BYTES = MAX_MESSAGE_BYTES

/** Longest signature a record may carry (Ed25519 is 64 bytes; room for other key types). */
export const MAX_HISTORY_SIGNATURE_BYTES = 1024

/** Longest error message in an error response. */
export const MAX_HISTORY_ERROR_CHARS = 300

/** One request, from opening the stream to the last byte of the answer. */
export const HISTORY_REQUEST_TIMEOUT_MS = 10_000

/**
 * Requests a device has under way to one relay at once; more wait their turn on the device. Half of what a relay
 * answers one peer at once by default (the relay's `STORE_QUERIES_AT_ONCE_PER_PEER`): a device that catches up many
 * rooms together (each room one query at a time) never meets the relay's limit.
 */
export const HISTORY_REQUESTS_AT_ONCE_PER_PEER = 4

/**
 * Times a device asks again after a relay answered `limited` (this device, or its address, is over the relay's
 * store-query limit), each after the wait the relay named; then the request fails and the caller asks another relay.
 */
export const HISTORY_LIMITED_RETRIES = 3

/** Longest wait a `limited` answer may name (`retryAfterMs`); a relay asking more is failed over at once. */
export const MAX_HISTORY_RETRY_AFTER_MS = 10_000

/** Senders whose parsed PeerId a client keeps while verifying stored records (a room has few). */
export const HISTORY_SENDER_CACHE_ENTRIES = 1_024
