/**
 * Defaults of audit anchoring (docs/architecture.md, Audit anchoring). Docs point here instead of repeating values.
 */

/**
 * ABI types of an audit leaf, in order: room id, message id, sender wallet, sender's timestamp (ms since the
 * epoch), sha256 of the ciphertext. Leaves are hashed as OpenZeppelin's `StandardMerkleTree` does
 * (`keccak256(keccak256(abi.encode(...)))`), so proofs verify with OpenZeppelin's `MerkleProof`.
 */
export const LEAF_ENCODING = ['bytes32', 'bytes32', 'address', 'uint64', 'bytes32'] as const

/** `format` of an exported transcript (see transcript.ts). */
export const TRANSCRIPT_FORMAT = 'securechat-transcript-v1'

/** Largest leaf list fetched from IPFS; a larger one is abandoned (about 450 bytes per leaf). */
export const MAX_LEAF_LIST_BYTES = 128 * 1024 * 1024

/**
 * A leaf list up to this many bytes is one IPFS block: Helia's unixfs (`addBytes`, CIDv1, raw leaves) cuts files
 * into chunks of this size and a file of one chunk is that chunk itself, so its CID is the CIDv1 `raw` sha256 of the
 * bytes (`leafListCid`), computable without an IPFS node. Larger lists become a DAG and need the importer.
 */
export const LEAF_LIST_CHUNK_BYTES = 1_048_576

/**
 * Largest leaf list a member hands to a relay (`POST /audit/leaf-lists`): one IPFS block, so the relay checks its
 * CID against the chain without the importer, and the member's batch is cut to fit.
 */
export const MAX_SUBMITTED_LEAF_LIST_BYTES = LEAF_LIST_CHUNK_BYTES

/** Most leaves one batch (and so one leaf list) may hold. */
export const MAX_BATCH_LEAVES = 250_000

/** Time allowed to fetch one leaf list from IPFS before it is reported unavailable. */
export const LEAF_LIST_FETCH_TIMEOUT_MS = 15_000

/**
 * Blocks per `eth_getLogs` request when scanning `Anchored` events; public RPCs cap the range
 * (commonly 10,000 blocks or fewer).
 */
export const ANCHOR_LOG_BLOCK_RANGE = 5_000

/**
 * Where `deployContracts` puts AuditLog on a fresh devnet chain: the first contract account 0
 * of Hardhat's public test mnemonic creates (nonce 0). Local chains only.
 */
export const DEVNET_AUDIT_LOG_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3'

/** How often a sent anchor transaction's receipt is asked for. */
export const RECEIPT_POLL_INTERVAL_MS = 250

/** An anchor transaction not mined after this long is given up on (and retried by the anchorer). */
export const RECEIPT_TIMEOUT_MS = 60_000

/** Leaf lists fetched at once while scanning anchored batches. */
export const LEAF_LIST_FETCH_CONCURRENCY = 4

/**
 * The last field (`ciphertextHash`) of a moderation leaf: what tells a room's moderation log position from a message
 * in the same batch (moderation-leaf.ts). The ASCII of `securechat moderation log v1`, zero-padded: a message leaf
 * holds sha256 of its ciphertext there, and nobody knows a sha256 preimage of this value, so no message can pose as
 * a moderation leaf, nor a moderation leaf as a message (its "message id" is an event's hash, no record's).
 */
export const MODERATION_LEAF_TAG = '0x73656375726563686174206d6f6465726174696f6e206c6f6720763100000000' as const
