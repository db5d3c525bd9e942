import { getAddress } from 'ethers'
import { SigningError } from '../errors.ts'
import type { Address, Eip1193Provider, WalletSigner } from '../types.ts'

// Implementations of the sdk's `WalletSigner` (types module, so the vault can take one without importing identity).
export type { WalletSigner }

/** The part of an ethers `Signer` (Wallet, HDNodeWallet, JsonRpcSigner) we use. */
export interface EthersLikeSigner {
  getAddress(): Promise<string>
  signMessage(message: string): Promise<string>
}

export type WalletSignerInit =
  /** An externally owned account: the signer's own address. */
  | { type: 'eoa'; signer: EthersLikeSigner }
  /** A contract wallet (ERC-1271) at `address` whose signatures `signer` produces. */
  | { type: 'contract'; address: string; signer: EthersLikeSigner }

export function walletSigner(init: WalletSignerInit): WalletSigner {
  return {
    async getAddress() {
      return getAddress(init.type === 'contract' ? init.address : await init.signer.getAddress()) as Address
    },
    async signMessage(message) {
      try {
        return await init.signer.signMessage(message)
      } catch (err) {
        throw new SigningError('the wallet could not sign the message', { cause: err })
      }
    },
  }
}

export type { Eip1193Provider }

export interface Eip1193SignerInit {
  provider: Eip1193Provider
  /** Account to use; the first one the wallet grants when absent. */
  address?: string
}

export function eip1193Signer(init: Eip1193SignerInit): WalletSigner {
  let address: Address | undefined = init.address === undefined ? undefined : (getAddress(init.address) as Address)
  const resolveAddress = async (): Promise<Address> => {
    if (address !== undefined) return address
    const accounts = await init.provider.request({ method: 'eth_requestAccounts' })
    if (!Array.isArray(accounts) || typeof accounts[0] !== 'string') {
      throw new SigningError('the wallet granted no account', { hint: 'unlock the wallet and allow this site' })
    }
    address = getAddress(accounts[0]) as Address
    return address
  }
  return {
    getAddress: resolveAddress,
    async signMessage(message) {
      const account = await resolveAddress()
      try {
        const hexMessage = `0x${Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, '0')).join('')}`
        const signature = await init.provider.request({ method: 'personal_sign', params: [hexMessage, account] })
        if (typeof signature !== 'string') throw new TypeError('personal_sign returned no string')
        return signature
      } catch (err) {
        throw new SigningError('the wallet did not sign the message', {
          cause: err,
          hint: 'approve the signature request in your wallet',
        })
      }
    },
  }
}
