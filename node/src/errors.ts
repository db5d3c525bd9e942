import { SecureChatError } from '@securechat/sdk/errors'

/** A flag, environment variable or config file value that cannot be used. */
export class ConfigError extends SecureChatError {
  override name = 'ConfigError'
}

/** A key file that cannot be read or decrypted. */
export class KeyFileError extends SecureChatError {
  override name = 'KeyFileError'
}

/** The local Hardhat chain could not be started (no Hardhat, port taken, no answer in time). */
export class ChainStartError extends SecureChatError {
  override name = 'ChainStartError'
}

/** A devnet contract could not be deployed, or demo tokens could not be minted. */
export class DeployError extends SecureChatError {
  override name = 'DeployError'
}

/** `securechat verify` found a message or transcript that does not verify (the verdict says why). */
export class VerificationFailedError extends SecureChatError {
  override name = 'VerificationFailedError'
}

/** The relay's message store cannot be opened or used (bad `--store` value, database unreachable, newer schema). */
export class StoreError extends SecureChatError {
  override name = 'StoreError'
}

/** The relay's TLS certificate or key file cannot be read, parsed or used together (`--tls-cert`, `--tls-key`). */
export class TlsError extends SecureChatError {
  override name = 'TlsError'
}
