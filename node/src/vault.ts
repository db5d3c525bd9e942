import type { WalletSigner } from '@securechat/sdk/identity'
import { openVault, platformVaultBackend, type Vault, type VaultUnlock } from '@securechat/sdk/vault'

/**
 * The vault of a client command's `--data-dir` (created on first use): locked with
 * `SECURECHAT_VAULT_PASSPHRASE` when it is set, otherwise with a key the wallet derives by
 * signing a fixed message. A wrong passphrase or wallet is refused by name and changes nothing.
 */
export function openDataDirVault(params: {
  dataDir: string
  signer: WalletSigner
  env: NodeJS.ProcessEnv
}): Promise<Vault> {
  const passphrase = params.env.SECURECHAT_VAULT_PASSPHRASE
  const unlock: VaultUnlock =
    passphrase === undefined || passphrase === ''
      ? { type: 'wallet', signer: params.signer }
      : { type: 'passphrase', passphrase }
  return openVault({ backend: platformVaultBackend(params.dataDir), unlock })
}

/** How `--data-dir`'s vault is locked, for `--help`. */
export const DATA_DIR_HELP =
  '\nThe vault in --data-dir is locked with SECURECHAT_VAULT_PASSPHRASE when set, else with a key the wallet\nderives by signing a fixed message.'
