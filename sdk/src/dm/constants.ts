/**
 * Defaults of direct messages. Docs point here instead of repeating values.
 */
import { PRESENCE_INTERVAL_MS } from '../constants.ts'

/** Version of the records on DM topics; a record with another version is ignored. */
export const DM_WIRE_VERSION = 1

/** A wallet's inbox: `/securechat/1/dm-inbox/<inboxId(address)>` (see `topics.ts`). */
export const DM_INBOX_TOPIC_PREFIX = '/securechat/1/dm-inbox/'

/** A pair of devices: `/securechat/1/dm/<pairId>`, a name only those two devices can compute. */
export const DM_TOPIC_PREFIX = '/securechat/1/dm/'

/** How often a device announces itself (certificate and key bundle) on its wallet's inbox. */
export const DM_ANNOUNCE_INTERVAL_MS = PRESENCE_INTERVAL_MS

/** A device answers inbox queries at most this often. */
export const DM_ANNOUNCE_MIN_GAP_MS = 500

/** Discovery asks a wallet's inbox again this often until one of its devices answers. */
export const DM_QUERY_RETRY_MS = 1_000

/**
 * How long after subscribing to a topic (a new session's pair topic) a record there waits for a neighbour that carries
 * it; later records go at once. A relay tells a topic only to its subscribers, when they subscribe: for a round trip after this
 * device subscribed it knows nobody there, and what it published then went nowhere — the first call signal of a
 * session opened by a call was lost. Short: a device with no relay at all does not hold its sends for long.
 */
export const DM_NEIGHBOUR_WAIT_MS = 3_000

/** Discovery gives up after this long (a wallet with no device online). */
export const DM_DISCOVERY_TIMEOUT_MS = 5_000

/**
 * Once a device answered, discovery waits until no new one did for this long: longer than
 * {@link DM_ANNOUNCE_MIN_GAP_MS}, so a device that announced just before still answers in time…
 */
export const DM_DISCOVERY_QUIET_MS = DM_ANNOUNCE_MIN_GAP_MS + 250

/** …and a conversation asks the inbox again only after this long (each query tells the relays whom we contact). */
export const DM_REDISCOVERY_MS = 60_000

/** A bundle heard this recently is fresh enough to use one of its one-time prekeys (see `sessions.ts`). */
export const DM_FRESH_BUNDLE_MS = 60_000

/** Devices per wallet a message goes to at most (the most recently heard from). */
export const DM_MAX_DEVICES_PER_WALLET = 16

/** Sessions kept per remote device (several start when both sides initiate at once); least recently used go first. */
export const DM_MAX_SESSIONS_PER_DEVICE = 5

/** Ids of accepted PQXDH initial messages remembered, so a replayed one is refused. */
export const DM_MAX_SEEN_INITS = 1_000

/** How often a running device checks whether its signed prekeys are due for rotation. */
export const DM_PREKEY_CHECK_INTERVAL_MS = 60 * 60 * 1000

/** Message ids one delivery receipt names at most (a receipt stays well under `MAX_TEXT_BYTES`). */
export const DM_MAX_RECEIPT_IDS = 256

/** A device gathers the ids of what it received for this long before sending the receipt (one per burst). */
export const DM_RECEIPT_DELAY_MS = 250

/** Sent messages whose per-device delivery status a device keeps in memory (the most recent). */
export const DM_MAX_TRACKED_SENDS = 10_000

/**
 * Ids of DM records this device handled (live or fetched) that it remembers, in memory and in the vault,
 * so that a record fetched again from a relay's store is not handled twice.
 */
export const DM_MAX_HANDLED_RECORDS = 4_096

/** Relays whose store position (per topic) a device remembers; the least recently asked go first. */
export const DM_MAX_HISTORY_RELAYS = 16

/** Records one catch-up fetches per topic and relay at most (a store's retention bounds it anyway). */
export const DM_MAX_CATCH_UP_RECORDS = 20_000

/** A running device asks the stores again this often (moves its position on, fills what gossip dropped). */
export const DM_CATCH_UP_INTERVAL_MS = 5 * 60 * 1000

/** A relay's clock is not another's: a topic new to a relay is asked from this long before the others' positions. */
export const DM_CATCH_UP_CLOCK_MARGIN_MS = 10 * 60 * 1000

/** The ids of records handled live reach the vault this long after the first of a burst. */
export const DM_HISTORY_SAVE_DELAY_MS = 2_000

/**
 * A sent text with no receipt from a device after this long is looked for in the relays' stores, and published
 * again (the same record, byte for byte) when none holds it; then after twice as long each time, up to
 * {@link DM_RESEND_MAX_DELAY_MS} apart (`outgoing.ts`). Longer than a receipt takes ({@link DM_RECEIPT_DELAY_MS}).
 */
export const DM_RESEND_AFTER_MS = 5_000
export const DM_RESEND_MAX_DELAY_MS = 10 * 60 * 1000

/** Re-publishes that reached a neighbour before a text is given up for a device (it stays `sent`). */
export const DM_MAX_RESENDS = 6

/** Sent texts (per device) waiting for a receipt or a store, in memory and in the vault; beyond it the oldest goes. */
export const DM_MAX_PENDING_SENDS = 1_000

/** Devices whose texts' gaps are followed at once (the most recent; each has its own gap repair). */
export const DM_MAX_GAP_DEVICES = 256
