/**
 * Defaults of the local vault. Docs point here instead of repeating values.
 */
import type { Argon2idParams } from '../crypto/primitives.ts'

/** Version of the vault format (header and entries); another version is refused, never rewritten. */
export const VAULT_FORMAT_VERSION = 1

/** The `format` field of every vault header. */
export const VAULT_FORMAT = 'securechat-vault' as const

/**
 * Argon2id cost of a new passphrase vault: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane;
 * Password Storage Cheat Sheet), about a second in a browser or Node. The cost is stored in the
 * vault header, so it can be raised for new vaults without breaking old ones.
 */
export const VAULT_ARGON2ID: Argon2idParams = { memoryKiB: 19 * 1024, timeCost: 2, parallelism: 1 }

/** Weakest Argon2id cost a vault header may name; a header asking for less is refused as damaged. */
export const VAULT_ARGON2ID_MIN: Argon2idParams = { memoryKiB: 8 * 1024, timeCost: 1, parallelism: 1 }

/** Highest Argon2id memory a header may ask for (a damaged header must not exhaust memory). */
export const VAULT_ARGON2ID_MAX_MEMORY_KIB = 1024 * 1024

/** Random salt of a vault's key derivation. */
export const VAULT_SALT_BYTES = 16

/** Shortest passphrase a new vault accepts (characters). */
export const VAULT_MIN_PASSPHRASE_LENGTH = 8

/** The file, in the data directory, that holds a Node vault. */
export const VAULT_FILE_NAME = 'vault.json'

/** The lock file beside it, held while a process has the vault open. */
export const VAULT_LOCK_FILE_NAME = 'vault.lock'

/** Fewer one-time prekeys than this left: the keyring generates a new batch (and DMs announce it). */
export const ONE_TIME_PREKEY_LOW_WATER = 5
