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
