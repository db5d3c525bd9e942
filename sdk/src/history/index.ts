export { catchUp, type HistorySource, libp2pHistorySource } from './catch-up.ts'
export { fetchHistory, type HistoryResult, queryHistory, queryHistoryPages } from './client.ts'
export {
  HISTORY_LIMITED_RETRIES,
  HISTORY_PAGE_RECORDS,
  HISTORY_REQUEST_TIMEOUT_MS,
  HISTORY_REQUESTS_AT_ONCE_PER_PEER,
  HISTORY_WIRE_VERSION,
  MAX_HISTORY_CURSOR_CHARS,
  MAX_HISTORY_DATA_BYTES,
  MAX_HISTORY_FETCH_IDS,
  MAX_HISTORY_PAGE_RECORDS,
  MAX_HISTORY_REQUEST_BYTES,
  MAX_HISTORY_RESPONSE_BYTES,
  MAX_HISTORY_RETRY_AFTER_MS,
  MAX_HISTORY_SIGNATURE_BYTES,
  MAX_HISTORY_TOPIC_CHARS,
  MAX_HISTORY_TYPE_CHARS,
  MAX_HISTORY_TYPES,
  RECENT_PROTOCOL,
  STORE_PROTOCOL,
} from './constants.ts'
export { catchUpDms, storedRecords } from './dm-catch-up.ts'
export { GapRepair, type GapRepairInit, type GapSource } from './gap-repair.ts'
export { libp2pGapSource } from './gap-source.ts'
export { RecentRecords, serveRecentRecords } from './recent-records.ts'
export { HistoryRejection, type VerifiedRecord, verifyHistoryRecord } from './verify.ts'
export {
  type DecodedRequest,
  type DecodedResponse,
  decodeHistoryRequest,
  decodeHistoryResponse,
  encodeHistoryError,
  encodeHistoryRequest,
  encodeRecordsResponse,
  HistoryErrorCode,
  type HistoryFetch,
  type HistoryQuery,
  type HistoryRange,
  type HistoryRecord,
  type HistoryRequest,
  type HistoryResponse,
  withinHistoryBounds,
} from './wire.ts'
