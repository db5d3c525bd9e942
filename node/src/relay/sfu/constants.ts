/**
 * Defaults and bounds of the relay's forwarding unit (issue 17, larger calls; `sfu-service.ts`). Docs point here
 * instead of repeating values.
 */

/** The Janus binary the relay runs: `--sfu-janus-bin`. Debian's package installs it on the PATH. */
export const SFU_JANUS_BIN = 'janus'

/** UDP ports Janus takes media on, `first-last`: `--sfu-rtp-ports`. One port per peer connection (bundled). */
export const SFU_RTP_PORTS = '20000-20199'

/** Publishing devices in one call at most: `--sfu-max-publishers` (at most the wire's `MAX_SFU_FEEDS`). */
export const SFU_MAX_PUBLISHERS = 16

/** Calls the relay forwards at once: `--sfu-max-calls`. */
export const SFU_MAX_CALLS = 64

/** SFU streams one peer may have open at once (a device is in one call; one more covers a rejoin's overlap). */
export const SFU_STREAMS_PER_PEER = 2

/**
 * Joins one peer may make, at once and per second on average (a join creates a Janus session, and for a new call a
 * room): a device joins a call now and then; a loop of joins is refused `full` past the burst.
 */
export const SFU_JOIN_BURST = 10
export const SFU_JOINS_PER_SECOND = 0.5

/** Peers whose join rate is tracked at most (the idle ones are forgotten first). */
export const SFU_JOIN_RATE_MAX_PEERS = 10_000

/** How long the relay waits for a stream's `join` once it opened. */
export const SFU_JOIN_READ_TIMEOUT_MS = 10_000

/**
 * How long a `join` from a connected peer that is not a room client yet waits for its presence to be checked (a
 * device that joins a room and its call at once asks before its presence reached the relay).
 */
export const SFU_MEMBER_WAIT_MS = 5_000

/** How often that wait looks again. */
export const SFU_MEMBER_POLL_MS = 200

/** How often a stream's membership is checked again while it is open: a member who left the room leaves the call. */
export const SFU_MEMBER_RECHECK_MS = 30_000

/** How long Janus may take to answer `/janus/info` after it was spawned. */
export const SFU_JANUS_START_TIMEOUT_MS = 15_000

/** One request to Janus's API, and the wait for the plugin event that answers it (a `publish`'s answer, say). */
export const SFU_JANUS_REQUEST_TIMEOUT_MS = 10_000

/** Janus drops a session not heard from for 60 s (`session_timeout`); the relay keeps each alive at this pace. */
export const SFU_JANUS_KEEPALIVE_MS = 25_000

/** A restart of a Janus that died waits this long first, doubling per death in a row up to the max. */
export const SFU_JANUS_RESTART_MIN_MS = 1_000
export const SFU_JANUS_RESTART_MAX_MS = 60_000

/** A Janus that ran this long before it died starts the backoff afresh. */
export const SFU_JANUS_HEALTHY_MS = 60_000

/** The folder of the Janus configuration the relay writes, under its data dir (or a temp dir without one). */
export const SFU_DIR = 'sfu'
