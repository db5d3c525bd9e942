export { currentGateRule } from './current-gate.ts'
export { type AcceptedRecord, RoomGatekeeper, type RoomGatekeeperInit } from './gatekeeper.ts'
export { decodeInvite, encodeInvite, INVITE_PREFIX, type Invite } from './invite.ts'
export {
  type CreateManifestParams,
  createManifest,
  manifestSigningText,
  type RoomAccess,
  type RoomManifest,
  roomIdOf,
  type SignedManifest,
  verifyManifest,
  verifyManifestOffline,
} from './manifest.ts'
export { describeRole, type MemberListEntry, type MemberRole, type MemberSource, memberList } from './member-list.ts'
export {
  createModerationEvent,
  MODERATION_ACTIONS,
  type ModerationAction,
  type ModerationEvent,
  moderationEventHash,
  walletAddress,
} from './moderation-event.ts'
export {
  type GateChange,
  type Lock,
  type ModerationEntry,
  ModerationLog,
  type ModerationRole,
  type ModerationState,
  type ModerationVerdict,
  type Mute,
} from './moderation-log.ts'
export { presenceIntervalFor, presenceTimeoutFor } from './presence-interval.ts'
export { type ModerateOptions, Room, type RoomComponents, type RoomInit, roomIdOfTopic, roomTopic } from './room.ts'
export {
  forgetRoom,
  loadHistoryPosition,
  loadMessageStates,
  loadRoomKeys,
  loadSavedRooms,
  ROOM_ENTRY_PREFIXES,
  roomKeysRecord,
  type StoredRoomKeys,
  saveJoinedRoom,
  saveRoomHistory,
} from './room-store.ts'
export { SenderChecks, type SenderChecksInit } from './sender-checks.ts'
export {
  decodeRecord,
  type Envelope,
  encodeRecord,
  type MessageRecord,
  messageIdOf,
  type PresenceRecord,
  type RoomRecord,
} from './wire.ts'
