/**
 * Errors of the sdk. Callers branch on `err.name` or `instanceof`, never on message text.
 */

export interface SecureChatErrorOptions {
  /** Structured facts about what went wrong (field names, values received). */
  details?: Record<string, unknown>
  /** What the user or operator can do next. */
  hint?: string
  cause?: unknown
}

export class SecureChatError extends Error {
  override name = 'SecureChatError'
  readonly details: Record<string, unknown>
  readonly hint: string | undefined

  constructor(message: string, options: SecureChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.details = options.details ?? {}
    this.hint = options.hint
  }
}

export interface DescribeErrorOptions {
  /**
   * Who reads the line. `log` (the default): `Name: message: cause`, for logs and rejection reasons, where the
   * name says which failure it was and the cause what lay under it. `person`: `message — hint`, for someone who
   * must act on it, to whom names and causes are noise.
   */
  for?: 'log' | 'person'
}

/**
 * Any thrown value as one line (the one describer of the sdk, the relay, the CLI and the web app). Takes an
 * error's `shortMessage` (ethers, viem) over its `message`, reads plain objects that carry a `message` (EIP-1193
 * wallet errors), and never includes a stack.
 */
export function describeError(err: unknown, options: DescribeErrorOptions = {}): string {
  if (options.for === 'person') {
    const hint = (err as { hint?: unknown } | null)?.hint
    return typeof hint === 'string' ? `${messageOf(err)} — ${hint}` : messageOf(err)
  }
  if (!(err instanceof Error)) return messageOf(err)
  const cause = err.cause === undefined ? '' : `: ${messageOf(err.cause)}`
  return `${err.name}: ${err.message}${cause}`
}

function messageOf(err: unknown): string {
  const e = err as { shortMessage?: unknown; message?: unknown } | null
  if (typeof e?.shortMessage === 'string') return e.shortMessage
  if (typeof e?.message === 'string') return e.message
  return String(err)
}

/** Input that does not match its schema (a malformed record, a bad flag value). */
export class InvalidInputError extends SecureChatError {
  override name = 'InvalidInputError'
}

/** A session certificate that fails one of the checks of docs/architecture.md's Identity section. */
export class InvalidCertificateError extends SecureChatError {
  override name = 'InvalidCertificateError'
  /** Which check failed, e.g. `expired`, `peer-mismatch`, `bad-signature`. */
  readonly reason: CertificateFailure

  constructor(reason: CertificateFailure, message: string, options: SecureChatErrorOptions = {}) {
    super(message, options)
    this.reason = reason
  }
}

export const CertificateFailure = {
  malformed: 'malformed',
  badSignature: 'bad-signature',
  expired: 'expired',
  notYetValid: 'not-yet-valid',
  issuedInFuture: 'issued-in-future',
  lifetimeTooLong: 'lifetime-too-long',
  wrongDomain: 'wrong-domain',
  wrongChain: 'wrong-chain',
  peerMismatch: 'peer-mismatch',
  contractWalletUnverifiable: 'contract-wallet-unverifiable',
} as const
export type CertificateFailure = (typeof CertificateFailure)[keyof typeof CertificateFailure]

/** A room manifest or invite that does not verify (bad signature, id mismatch). */
export class InvalidManifestError extends SecureChatError {
  override name = 'InvalidManifestError'
}

/** Operation needs a started client / joined room. */
export class NotStartedError extends SecureChatError {
  override name = 'NotStartedError'
}

/** No relay or peer could be reached. */
export class UnreachableError extends SecureChatError {
  override name = 'UnreachableError'
}

/** The wallet refused or failed to sign. */
export class SigningError extends SecureChatError {
  override name = 'SigningError'
}

/**
 * The wallet does not pass a room's token gate (docs/architecture.md, Token gates). The message says what
 * the room requires and what the wallet holds; `details` carries the address and the rule.
 */
export class NotEligibleError extends SecureChatError {
  override name = 'NotEligibleError'
}

/**
 * A token gate could not be checked: no RPC endpoint, the endpoint failed or serves another
 * chain. Gates fail closed: nobody new is admitted until the chain answers again.
 */
export class GateUnavailableError extends SecureChatError {
  override name = 'GateUnavailableError'
}

/**
 * The room's moderation log stops this wallet from sending (docs/architecture.md, Moderation): muted until a time, a
 * read-only lock, or a lock that does not list it. Honest members and relays would drop what it sends.
 */
export class ModeratedError extends SecureChatError {
  override name = 'ModeratedError'
}

// --- Local vault (docs/architecture.md, Local vault) ---

/** Base class of the vault's errors: nothing was written or deleted when one is thrown. */
export class VaultError extends SecureChatError {
  override name = 'VaultError'
}

/** The passphrase does not open this vault (or its header was changed). The vault is untouched. */
export class WrongPassphraseError extends VaultError {
  override name = 'WrongPassphraseError'
}

/**
 * The wallet does not open this vault: another wallet's vault, or a signature that does not
 * derive its key (a wallet that does not sign deterministically). The vault is untouched.
 */
export class WrongWalletError extends VaultError {
  override name = 'WrongWalletError'
}

/** The vault is locked with the other method (a passphrase vault opened with a wallet, or the reverse). */
export class VaultLockedError extends VaultError {
  override name = 'VaultLockedError'
}

/** The vault file or an entry cannot be read: damaged, truncated, or not a vault. Left as it is. */
export class VaultCorruptError extends VaultError {
  override name = 'VaultCorruptError'
}

/** Another process (or tab) has this vault open. */
export class VaultBusyError extends VaultError {
  override name = 'VaultBusyError'
}

/**
 * A history request (`/securechat/store/1.0.0`) that got no usable answer: the relay answered
 * with an error (`details.code`), sent a malformed frame, or could not be reached.
 */
export class HistoryRequestError extends SecureChatError {
  override name = 'HistoryRequestError'
}
