import { SecureChatError } from '@securechat/sdk/errors'

/** The local Hardhat chain could not be started (no Hardhat, port taken, no answer in time). */
export class ChainStartError extends SecureChatError {
  override name = 'ChainStartError'
}

/** A devnet contract could not be deployed, or demo tokens could not be minted. */
export class DeployError extends SecureChatError {
  override name = 'DeployError'
}
