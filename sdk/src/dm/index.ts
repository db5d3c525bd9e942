/**
 * `@securechat/sdk/dm`: direct messages between wallets — discovery on inbox topics, PQXDH +
 * Double Ratchet sessions per device pair, and the gossip validation relays run on DM topics.
 */
export {
  DM_ANNOUNCE_INTERVAL_MS,
  DM_ANNOUNCE_MIN_GAP_MS,
  DM_CATCH_UP_CLOCK_MARGIN_MS,
  DM_CATCH_UP_INTERVAL_MS,
  DM_DISCOVERY_QUIET_MS,
  DM_DISCOVERY_TIMEOUT_MS,
  DM_FRESH_BUNDLE_MS,
  DM_HISTORY_SAVE_DELAY_MS,
  DM_INBOX_TOPIC_PREFIX,
  DM_MAX_CATCH_UP_RECORDS,
  DM_MAX_DEVICES_PER_WALLET,
  DM_MAX_GAP_DEVICES,
  DM_MAX_HANDLED_RECORDS,
  DM_MAX_HISTORY_RELAYS,
  DM_MAX_PENDING_SENDS,
  DM_MAX_RECEIPT_IDS,
  DM_MAX_RESENDS,
  DM_MAX_SEEN_INITS,
  DM_MAX_SESSIONS_PER_DEVICE,
  DM_MAX_TRACKED_SENDS,
  DM_PREKEY_CHECK_INTERVAL_MS,
  DM_QUERY_RETRY_MS,
  DM_RECEIPT_DELAY_MS,
  DM_REDISCOVERY_MS,
  DM_RESEND_AFTER_MS,
  DM_RESEND_MAX_DELAY_MS,
  DM_TOPIC_PREFIX,
  DM_WIRE_VERSION,
} from './constants.ts'
export { Conversation, type ConversationHost } from './conversation.ts'
export {
  DirectMessages,
  type DirectMessagesComponents,
  type DirectMessagesInit,
  type DmHistoryAccess,
} from './direct-messages.ts'
export { type AcceptedDmRecord, DmGatekeeper, type DmGatekeeperInit } from './gatekeeper.ts'
export { type DmHistorySink, type HandledDmRecord, ratchetPosition } from './history-sink.ts'
export type { TopicPosition } from './history-state.ts'
export { type DmTopicKind, inboxId, inboxTopic, isDmTopic, pairTopic, parseDmTopic } from './topics.ts'
export {
  type DeviceRecord,
  type DmDecodeResult,
  type DmEnvelope,
  type DmReceipt,
  type DmRecord,
  type DmText,
  decodeDmRecord,
  dmEnvelopeSchema,
  dmReceiptSchema,
  dmRecordId,
  encodeDmRecord,
  type InitRecord,
  type MsgRecord,
  type QueryRecord,
  sessionIdOf,
} from './wire.ts'
