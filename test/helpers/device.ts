import type { ConnectionGater } from '@libp2p/interface'
import { type ClientInit, createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { openVault, VAULT_ARGON2ID_MIN, type VaultBackend } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../../node/src/constants.ts'
import type { RelayNode } from '../../node/src/relay/relay.ts'
import type { Stoppers } from './stoppers.ts'

export interface DeviceInit {
  wallet: HDNodeWallet
  bootstrap: string[]
  /** Where the device's vault lives: the same backend again is the same device after a restart; none, no vault. */
  backend?: VaultBackend
  listen?: string[]
  presenceIntervalMs?: number
  presenceTimeoutMs?: number
  presenceFullRateMembers?: number
  /** Which peers the device may reach (a network that does not route to one relay, say). */
  connectionGater?: ConnectionGater
  /** The device's wall clock (`createClient({ now })`): what its records state as their times. */
  now?: () => number
  /** Its own publishing pace (`createClient({ publishPacing })`): a flooder's is far above the relay's limit. */
  publishPacing?: ClientInit['publishPacing']
}

export interface Device {
  client: SecureChatClient
  /** Stops the client and closes its vault; again does nothing. */
  close: () => Promise<void>
}

/** A started sdk client configured as the CLI's devnet is, with a passphrase vault on `backend` when given. */
export async function startDevice(init: DeviceInit): Promise<Device> {
  const vault =
    init.backend === undefined
      ? undefined
      : await openVault({
          backend: init.backend,
          unlock: { type: 'passphrase', passphrase: 'only for this test' },
          argon2id: VAULT_ARGON2ID_MIN,
        })
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: init.wallet }),
    bootstrap: init.bootstrap,
    ...(init.presenceIntervalMs === undefined ? {} : { presenceIntervalMs: init.presenceIntervalMs }),
    ...(init.presenceTimeoutMs === undefined ? {} : { presenceTimeoutMs: init.presenceTimeoutMs }),
    ...(init.presenceFullRateMembers === undefined ? {} : { presenceFullRateMembers: init.presenceFullRateMembers }),
    ...(init.listen === undefined ? {} : { listen: init.listen }),
    ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
    ...(init.now === undefined ? {} : { now: init.now }),
    ...(init.publishPacing === undefined ? {} : { publishPacing: init.publishPacing }),
    ...(vault === undefined ? {} : { vault }),
  })
  await client.start()
  let closed = false
  return {
    client,
    close: async () => {
      if (closed) return
      closed = true
      await client.stop()
      await vault?.close()
    },
  }
}

/** `count` devices, each of a wallet of its own, stopped by `stoppers` after the test. */
export function startDevices(
  count: number,
  init: Omit<DeviceInit, 'wallet'>,
  stoppers: Array<() => Promise<unknown>>,
): Promise<Device[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const device = await startDevice({ ...init, wallet: Wallet.createRandom() })
      stoppers.push(device.close)
      return device
    }),
  )
}

/** A started client of a wallet of its own, as the CLI's devnet configures one, stopped by `stoppers` after the test. */
export async function startClient(
  bootstrap: string,
  stoppers: Array<() => Promise<unknown>>,
): Promise<SecureChatClient> {
  const device = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [bootstrap] })
  stoppers.push(device.close)
  return device.client
}

/** A started client of a new wallet on `relay` ({@link startDevice}, no vault), its DMs ready, stopped after the test. */
export async function startDmDevice(stoppers: Stoppers, relay: RelayNode): Promise<SecureChatClient> {
  const { client, close } = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relay.multiaddrs[0]!] })
  stoppers.push(close)
  await client.dms.ready()
  return client
}
