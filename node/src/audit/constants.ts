/** Defaults of relay anchoring and the audit commands. Docs point here instead of repeating values. */

/** How often an anchoring relay cuts a batch of the messages it accepted and anchors it (one transaction). */
export const ANCHOR_INTERVAL_MS = 60_000

/** Most messages in one batch; more wait for the next one. Keeps leaf lists to a few MB. */
export const ANCHOR_MAX_BATCH = 10_000

/** One JSON-RPC request of the anchorer is abandoned after this long (then retried at the next interval). */
export const ANCHOR_RPC_TIMEOUT_MS = 10_000

/**
 * Leaves of its most recently anchored batches that a relay answers `GET /audit/proof` for: its anchorer's and the
 * members' batches it took, in one index (about 250 bytes each in memory, so some 25 MB: measured 25.1 MB with
 * batches of 10,000 leaves, 14.9 MB with batches of 1,000; read back from disk at a restart). Older messages prove
 * from their leaf list on IPFS (`securechat verify`).
 */
export const ANCHOR_PROOF_INDEX_LEAVES = 100_000

/** `npm start`'s relay anchors this often, so a new user sees anchors within seconds. */
export const DEVNET_ANCHOR_INTERVAL_MS = 3_000

/** Subdirectory of the relay's data dir with the anchorer's journal, batches and IPFS blocks. */
export const AUDIT_DIR = 'audit'

/** Time `securechat verify` and `export` wait for a relay's IPFS node to hand over one leaf list. */
export const CLI_LEAF_LIST_TIMEOUT_MS = 5_000

/**
 * Without `--from-block`, the audit commands look for `Anchored` events in this many recent blocks (about two
 * weeks of Ethereum mainnet); on the devnet chain, in all of them.
 */
export const ANCHOR_SCAN_BLOCKS = 100_000

/** Messages `anchor` and `export` keep while they listen (`commands/room-recorder.ts`), at most. */
export const MAX_RECORDED_MESSAGES = 100_000

/** Hardhat dev account (index) that pays for `npm start`'s anchors: a PUBLIC test key, local use only. */
export const DEVNET_ANCHORER_ACCOUNT = 9
