/**
 * A room for the moderation tests: a real `securechat relay` process (with its store and metrics), the owner's
 * manifest, sdk clients joining it, and a raw libp2p forger (`forger.ts`) publishing whatever a test signs.
 */
import type { SecureChatClient, SecureChatLibp2p } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, type Room, roomIdOf, roomTopic } from '@securechat/sdk/rooms'
import type { SignedManifest } from '@securechat/sdk/types'
import { type HDNodeWallet, Wallet } from 'ethers'
import { type RelayProcess, startRelayProcess } from './cli.ts'
import { startDevice } from './device.ts'
import { publishToRelay, startForger } from './forger.ts'
import { until } from './room-inbox.ts'

export const MODERATION_CHAIN_ID = 31337

export interface Peer {
  wallet: HDNodeWallet
  client: SecureChatClient
  room: Room
  close: () => Promise<void>
}

export interface ModeratedRoom {
  relay: RelayProcess
  manifest: SignedManifest
  roomId: string
  ownerWallet: HDNodeWallet
  /** A client of `wallet` joined to the room (its clock `now` if given), stopped by {@link ModeratedRoom.stop}. */
  join: (wallet: HDNodeWallet, options?: { now?: () => number }) => Promise<Peer>
  /** The relay's count of records it rejected (its metrics). */
  rejectedByRelay: () => Promise<number>
  /** A forger announced by its presence (its records are judged, not held for a certificate), and its publish. */
  forger: (timeoutMs: number) => Promise<{ publish: (bytes: Uint8Array) => Promise<void>; stop: () => Promise<void> }>
  stop: () => Promise<void>
}

export async function startModeratedRoom(name: string): Promise<ModeratedRoom> {
  const relay = await startRelayProcess({ args: ['--http', '0', '--chain-id', String(MODERATION_CHAIN_ID)] })
  const ownerWallet = Wallet.createRandom()
  const manifest = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: ownerWallet }),
    name,
    domains: ['localhost'],
    chainIds: [MODERATION_CHAIN_ID],
  })
  const roomId = roomIdOf(manifest.manifest)
  const closers: Array<() => Promise<void>> = []
  const relayAddress = relay.multiaddrs[0]!
  const publish = (libp2p: SecureChatLibp2p, bytes: Uint8Array, timeoutMs: number): Promise<void> =>
    publishToRelay(libp2p, roomTopic(roomId), relayAddress, bytes, timeoutMs)
  return {
    relay,
    manifest,
    roomId,
    ownerWallet,
    join: async (wallet, options = {}) => {
      const { client, close } = await startDevice({
        wallet,
        bootstrap: [relayAddress],
        presenceIntervalMs: 1_000,
        ...(options.now === undefined ? {} : { now: options.now }),
      })
      closers.push(close)
      const room = await client.joinRoom(manifest)
      return { wallet, client, room, close }
    },
    rejectedByRelay: async () => {
      const metrics = await (await fetch(new URL('/metrics', relay.web))).text()
      return Number(/^securechat_relay_records_rejected_total (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN)
    },
    forger: async (timeoutMs) => {
      const { libp2p, presence } = await startForger({
        roomId,
        relayAddress,
        domain: 'localhost',
        chainId: MODERATION_CHAIN_ID,
        timeoutMs,
      })
      await publish(libp2p, presence, timeoutMs)
      return { publish: (bytes) => publish(libp2p, bytes, timeoutMs), stop: async () => await libp2p.stop() }
    },
    stop: async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined)
      if (relay.child.exitCode === null) {
        relay.kill('SIGTERM')
        await relay.exited
      }
    },
  }
}

/** Whether `peer`'s member list has `other`. */
export const lists = (peer: { room: Room }, other: { wallet: { address: string } }): boolean =>
  peer.room.members().some((m) => m.address === other.wallet.address)

/** Resolves once every peer lists every other. */
export async function meetAll(peers: readonly Peer[], timeoutMs: number): Promise<void> {
  for (const peer of peers) {
    for (const other of peers) {
      if (peer === other) continue
      await until(
        [[peer.room, 'member:joined']],
        () => lists(peer, other),
        () => 'members never met',
        timeoutMs,
      )
    }
  }
}
