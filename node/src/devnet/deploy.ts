/**
 * Deploys the SecureChat contracts to a devnet chain and mints demo tokens for its accounts.
 */

import {
  auditLogAbi,
  auditLogBytecode,
  demoMultiTokenAbi,
  demoMultiTokenBytecode,
  demoTokenAbi,
  demoTokenBytecode,
  memberNftAbi,
  memberNftBytecode,
} from '@securechat/sdk/contracts'
import {
  type BaseContract,
  Contract,
  ContractFactory,
  type ContractTransactionResponse,
  type InterfaceAbi,
  isAddress,
  parseUnits,
  type Signer,
} from 'ethers'
import { DEMO_ERC20_AMOUNT, DEMO_ERC1155_AMOUNT, DEMO_ERC1155_ID } from '../constants.ts'
import { DeployError } from '../errors.ts'
import type { AbortOptions } from './chain.ts'

/** Addresses of the contracts `deployContracts` deployed (EIP-55 checksummed). */
export interface DevnetAddresses {
  readonly auditLog: string
  readonly memberNft: string
  readonly demoMultiToken: string
  readonly demoToken: string
}

export interface DeployContractsParams {
  /** Deploys everything and owns the demo tokens (the only account that may mint). Must have a provider. */
  signer: Signer
}

export interface MintDemoTokensParams {
  /** Owner of the demo tokens (the signer given to `deployContracts`). */
  signer: Signer
  addresses: DevnetAddresses
  /** Accounts that each receive one MemberNFT, `DEMO_ERC1155_AMOUNT` of id `DEMO_ERC1155_ID` and `DEMO_ERC20_AMOUNT` DemoToken. */
  holders: readonly string[]
}

const CONTRACTS = [
  { key: 'auditLog', name: 'AuditLog', abi: auditLogAbi, bytecode: auditLogBytecode, owned: false },
  { key: 'memberNft', name: 'MemberNFT', abi: memberNftAbi, bytecode: memberNftBytecode, owned: true },
  {
    key: 'demoMultiToken',
    name: 'DemoMultiToken',
    abi: demoMultiTokenAbi,
    bytecode: demoMultiTokenBytecode,
    owned: true,
  },
  { key: 'demoToken', name: 'DemoToken', abi: demoTokenAbi, bytecode: demoTokenBytecode, owned: true },
] as const satisfies readonly {
  key: keyof DevnetAddresses
  name: string
  abi: InterfaceAbi
  bytecode: string
  owned: boolean
}[]

/**
 * Deploys AuditLog, MemberNFT, DemoMultiToken and DemoToken from `signer`, one after the other, and resolves once all
 * are mined. The demo tokens are owned by `signer`.
 */
export async function deployContracts(
  params: DeployContractsParams,
  options: AbortOptions = {},
): Promise<DevnetAddresses> {
  const { signer } = params
  if (signer.provider === null) {
    throw new DeployError('signer: expected a signer connected to a provider, got one without', {
      hint: 'Connect it first: `wallet.connect(provider)`.',
    })
  }
  const owner = await signer.getAddress()
  const addresses: Partial<Record<keyof DevnetAddresses, string>> = {}
  for (const { key, name, abi, bytecode, owned } of CONTRACTS) {
    options.signal?.throwIfAborted()
    try {
      const factory = new ContractFactory(abi, bytecode, signer)
      const contract: BaseContract = owned ? await factory.deploy(owner) : await factory.deploy()
      await contract.waitForDeployment()
      addresses[key] = await contract.getAddress()
    } catch (cause) {
      throw new DeployError(`could not deploy ${name}`, {
        details: { contract: name, deployer: owner, deployed: { ...addresses } },
        hint: 'Is the chain running, and does the deployer hold ETH for gas?',
        cause,
      })
    }
  }
  return addresses as DevnetAddresses
}

/**
 * Gives each holder one MemberNFT, `DEMO_ERC1155_AMOUNT` of DemoMultiToken id `DEMO_ERC1155_ID` and
 * `DEMO_ERC20_AMOUNT` DemoToken (18 decimals). Sends every mint with consecutive nonces, then waits for all of them.
 */
export async function mintDemoTokens(params: MintDemoTokensParams, options: AbortOptions = {}): Promise<void> {
  const { signer, addresses, holders } = params
  for (const [i, holder] of holders.entries()) {
    if (!isAddress(holder)) {
      throw new DeployError(`holders[${i}]: expected an address, got ${JSON.stringify(holder)}`, {
        details: { index: i, holder },
      })
    }
  }
  const memberNft = new Contract(addresses.memberNft, memberNftAbi, signer)
  const multiToken = new Contract(addresses.demoMultiToken, demoMultiTokenAbi, signer)
  const token = new Contract(addresses.demoToken, demoTokenAbi, signer)
  const erc20Amount = parseUnits(DEMO_ERC20_AMOUNT.toString(), 18)

  let nonce = await signer.getNonce('pending')
  const sent: { what: string; holder: string; tx: ContractTransactionResponse }[] = []
  const send = async (what: string, holder: string, call: () => Promise<ContractTransactionResponse>) => {
    options.signal?.throwIfAborted()
    try {
      sent.push({ what, holder, tx: await call() })
    } catch (cause) {
      throw new DeployError(`could not mint ${what} to ${holder}`, {
        details: { what, holder, addresses },
        hint: 'Is `signer` the owner of the demo tokens (the account that ran deployContracts)?',
        cause,
      })
    }
  }
  for (const holder of holders) {
    await send('MemberNFT', holder, () => memberNft.getFunction('mint')(holder, { nonce: nonce++ }))
    await send('DemoMultiToken', holder, () =>
      multiToken.getFunction('mint')(holder, DEMO_ERC1155_ID, DEMO_ERC1155_AMOUNT, { nonce: nonce++ }),
    )
    await send('DemoToken', holder, () => token.getFunction('mint')(holder, erc20Amount, { nonce: nonce++ }))
  }
  for (const { what, holder, tx } of sent) {
    try {
      await tx.wait()
    } catch (cause) {
      throw new DeployError(`minting ${what} to ${holder} failed`, { details: { what, holder, addresses }, cause })
    }
  }
}
