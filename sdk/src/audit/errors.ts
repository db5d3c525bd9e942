import { SecureChatError } from '../errors.ts'

/** A leaf list or transcript that does not parse, or whose tree does not rebuild to its root. */
export class InvalidLeafListError extends SecureChatError {
  override name = 'InvalidLeafListError'
}

/** An exported transcript that does not match its schema. */
export class InvalidTranscriptError extends SecureChatError {
  override name = 'InvalidTranscriptError'
}

/** The audit log could not be read (RPC down, wrong address or chain). */
export class AuditLogUnavailableError extends SecureChatError {
  override name = 'AuditLogUnavailableError'
}

/** A leaf list could not be fetched from IPFS in time. */
export class LeafListUnavailableError extends SecureChatError {
  override name = 'LeafListUnavailableError'
}

/** The wallet's user rejected the transaction (EIP-1193 error 4001): nothing was sent. */
export class WalletRejectedError extends SecureChatError {
  override name = 'WalletRejectedError'
}

/** The wallet is on another chain than the one the transaction is meant for; `details` name both. */
export class WrongChainError extends SecureChatError {
  override name = 'WrongChainError'
}
