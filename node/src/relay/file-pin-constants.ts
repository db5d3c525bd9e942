/** Defaults and bounds of the relay's file pins (issue 16; `file-pins.ts`). Docs point here instead of repeating values. */

const GiB = 1024 ** 3
const MiB = 1024 ** 2

/** Folder of the file pins' blocks and pin records, under the relay's `--data-dir`. */
export const FILES_DIR = 'files'

/** The largest file (its plaintext size; the ciphertext is a little larger) the relay keeps: `--file-max-bytes`. */
export const FILE_MAX_BYTES = 2 * GiB

/** What the files of one room or DM topic may take together: `--file-room-quota`. */
export const FILE_ROOM_QUOTA_BYTES = 4 * GiB

/** What every file kept takes together, on disk: `--file-total-quota` (0 turns pinning off). */
export const FILE_TOTAL_QUOTA_BYTES = 20 * GiB

/**
 * The total of a relay without a data dir (an in-process relay, tests), whose files are held in memory: small,
 * since it is memory.
 */
export const FILE_MEMORY_TOTAL_QUOTA_BYTES = 256 * MiB

/**
 * The least a file is charged against the quotas, whatever its size: each pin costs a record and a walk, so a
 * flood of tiny files meets the quota as soon as one of large files would (at most 20 480 pins in 20 GiB).
 */
export const FILE_PIN_MIN_CHARGE_BYTES = 1 * MiB

/**
 * Free disk space a pin must leave: a relay refuses (`relay-full`) rather than fill the disk below it, whatever
 * its quota says (the quota may be larger than the disk, or the disk shared).
 */
export const FILE_DISK_HEADROOM_BYTES = 1 * GiB

/** Pins one peer may have under way at once; beyond, `busy`. */
export const FILE_PINS_AT_ONCE_PER_PEER = 2

/** Pins the relay fetches at once in all; beyond, `busy`. */
export const FILE_PINS_AT_ONCE = 8

/**
 * How long a pin request from a connected peer that is not a member yet waits for its presence to be checked (a
 * device that joins and shares at once asks before its presence reached the relay); then `not-a-member`. Only for a
 * conversation this relay serves: another topic is refused at once.
 */
export const FILE_PIN_MEMBER_WAIT_MS = 5_000

/** How often a waiting pin request looks again. */
export const FILE_PIN_MEMBER_POLL_MS = 200

/** How long the relay waits for a pin request's frame once the stream opened. */
export const FILE_PIN_REQUEST_READ_TIMEOUT_MS = 10_000

/** Progress frames go out at most this often (each one is a write to the asker). */
export const FILE_PIN_PROGRESS_INTERVAL_MS = 500

/** How often pins past the retention are removed and their blocks collected. */
export const FILE_PIN_SWEEP_INTERVAL_MS = 10 * 60_000
