/**
 * `@securechat/sdk/vault`: the encrypted local vault (docs/architecture.md, Local vault) — keys and
 * session state wrapped under a non-extractable WebCrypto key derived from the wallet or a
 * passphrase; a file in the data dir on Node, IndexedDB in the browser.
 */
export {
  ONE_TIME_PREKEY_LOW_WATER,
  VAULT_ARGON2ID,
  VAULT_ARGON2ID_MAX_MEMORY_KIB,
  VAULT_ARGON2ID_MIN,
  VAULT_FILE_NAME,
  VAULT_FORMAT,
  VAULT_FORMAT_VERSION,
  VAULT_LOCK_FILE_NAME,
  VAULT_MIN_PASSPHRASE_LENGTH,
  VAULT_SALT_BYTES,
} from './constants.ts'
export { DEVICE_ENTRIES, loadDevice, type StoredDevice, saveDevice } from './device.ts'
export { DeviceKeyring } from './keyring.ts'
export { platformVaultBackend } from './vault.node.ts'
export {
  memoryVaultBackend,
  type OpenVaultParams,
  openVault,
  Vault,
  type VaultBackend,
  type VaultHeader,
  type VaultUnlock,
  walletVaultMessage,
} from './vault.ts'
