export { ciphertextHashOf } from '../rooms/wire.ts'
export type { Bytes32 } from '../types.ts'
export {
  type AuditBatch,
  batchFromValues,
  buildBatch,
  buildBatchSync,
  decodeLeafList,
  encodeLeafList,
  type InclusionProof,
  leafListOf,
  proveInclusion,
  roomLeaves,
} from './batch.ts'
export {
  type AnchoredEvent,
  type AnchoredEventFilter,
  type AnchorRecord,
  type AnchorResult,
  type AnchorRootParams,
  type AuditLogParams,
  type AuditLogReader,
  anchorRoot,
  auditLogReader,
} from './chain.ts'
export { leafListCid, sameCid } from './cid.ts'
export {
  ANCHOR_LOG_BLOCK_RANGE,
  DEVNET_AUDIT_LOG_ADDRESS,
  LEAF_ENCODING,
  LEAF_LIST_CHUNK_BYTES,
  LEAF_LIST_FETCH_CONCURRENCY,
  LEAF_LIST_FETCH_TIMEOUT_MS,
  MAX_BATCH_LEAVES,
  MAX_LEAF_LIST_BYTES,
  MAX_SUBMITTED_LEAF_LIST_BYTES,
  MODERATION_LEAF_TAG,
  RECEIPT_POLL_INTERVAL_MS,
  RECEIPT_TIMEOUT_MS,
  TRANSCRIPT_FORMAT,
} from './constants.ts'
export {
  AuditLogUnavailableError,
  InvalidLeafListError,
  InvalidTranscriptError,
  LeafListUnavailableError,
  WalletRejectedError,
  WrongChainError,
} from './errors.ts'
export {
  type CheckFileCommitmentParams,
  checkFileCommitment,
  checkSharedFile,
  type FileCommitmentCheck,
  fileCommitmentOf,
} from './file-commitment.ts'
export { type AuditIpfs, type AuditIpfsInit, createAuditIpfs, fetchLeafList, publishLeafList } from './ipfs.ts'
export {
  type AuditLeaf,
  fromBytes32,
  leafFromValue,
  leafHashOf,
  leafKey,
  leafOfAccepted,
  leafOfMessage,
  leafOfRecord,
  leafToValue,
  toBytes32,
} from './leaf.ts'
export { type FetchAnchoredBatchesParams, type FoundBatch, fetchAnchoredBatches, findEvidence } from './lookup.ts'
export {
  type AuditedModerationEvent,
  describeModerationAudit,
  type ModerationAnchorRef,
  type ModerationAudit,
  ModerationAuditFailure,
  type ModerationAuditProblem,
  type VerifyModerationLogParams,
  verifyModerationLog,
} from './moderation-audit.ts'
export {
  type AnchorModerationLogParams,
  anchorModerationLog,
  isModerationLeaf,
  type ModerationBatch,
  type ModerationLogView,
  type ModerationPosition,
  moderationBatch,
  moderationLeaf,
  moderationPositionOf,
  moderationTipLeaves,
} from './moderation-leaf.ts'
export {
  type BuildTranscriptParams,
  buildTranscript,
  describeTranscriptVerdict,
  type MessageStatus,
  parseTranscript,
  type Transcript,
  type TranscriptBatch,
  type TranscriptGap,
  type TranscriptMessage,
  type TranscriptMessageInput,
  type TranscriptVerdict,
  verifyTranscript,
} from './transcript.ts'
export { encodeLeafValue, type LeafList, type LeafValue, leafValueHash, MerkleTree, verifyLeafProof } from './tree.ts'
export {
  describeVerdict,
  type InclusionEvidence,
  type MessageClaim,
  type Verdict,
  VerifyFailure,
  type VerifyInclusionParams,
  verifyInclusion,
} from './verify.ts'
