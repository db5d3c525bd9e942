/** `GET /config.json`: what the web app needs to reach this relay and its chain (`webAppConfigSchema` in the sdk). */
import type { WebAppConfigBody } from '@securechat/sdk/relay-api'
import type { RelayNode } from '../relay.ts'
import { webSocketAddresses } from './addresses.ts'
import type { Replies, Route } from './reply.ts'

/** What `/config.json` tells the web app, besides this relay's addresses. */
export interface WebAppSettings {
  /** Chain of `rpcUrl` (token gates, contract wallets, audit anchors). */
  chainId?: number
  /** JSON-RPC endpoint browsers may use. It is published to every visitor: never one with a secret in it. */
  rpcUrl?: string
  /** Contracts on that chain, by name (`auditLog`, …). */
  contracts?: Record<string, string>
  /**
   * Lets the app dial loopback and private addresses. Browsers' libp2p refuses them by default, and
   * that stays the default: only a devnet or a LAN deployment turns it on.
   */
  allowPrivateAddresses?: boolean
  /** An Ethereum mainnet JSON-RPC endpoint, so the app can show ENS names. Published like `rpcUrl`. */
  ensRpcUrl?: string
  /**
   * ICE servers for browsers' WebRTC connections (STUN/TURN URLs); absent: the browser's defaults.
   * A devnet on loopback passes none (`[]`): host candidates are enough, and STUN is unreachable.
   */
  iceServers?: string[]
  /**
   * Other relays the app may use as well (the relay's `--peer` list): their WebSocket addresses that name a PeerId
   * follow this relay's own, so a browser whose relay dies goes on through one of them.
   */
  relays?: string[]
}

export type AppConfigSource = Pick<RelayNode, 'peerId' | 'multiaddrs'>

/** The body of `/config.json`; throws while the relay's libp2p node is stopped (it has no addresses then). */
export function appConfig(relay: AppConfigSource, app: WebAppSettings = {}): WebAppConfigBody {
  return {
    relays: [
      ...new Set([
        ...webSocketAddresses(relay.multiaddrs, relay.peerId),
        ...(app.relays ?? []).filter((address) => /\/(ws|wss|tls\/ws)\/p2p\/[^/]+$/.test(address)),
      ]),
    ],
    ...(app.chainId === undefined ? {} : { chainId: app.chainId }),
    ...(app.rpcUrl === undefined ? {} : { rpcUrl: app.rpcUrl }),
    contracts: { ...app.contracts },
    allowPrivateAddresses: app.allowPrivateAddresses ?? false,
    ...(app.ensRpcUrl === undefined ? {} : { ensRpcUrl: app.ensRpcUrl }),
    ...(app.iceServers === undefined ? {} : { iceServers: app.iceServers.map((urls) => ({ urls })) }),
  }
}

export function appConfigRoute(init: { relay: AppConfigSource; app?: WebAppSettings; reply: Replies }): Route {
  return (exchange) => {
    let config: WebAppConfigBody
    try {
      config = appConfig(init.relay, init.app)
    } catch {
      // The relay's libp2p node is stopping or stopped: nothing to dial. The app keeps its last copy.
      return init.reply.json(exchange, 503, { error: 'the relay is not running; try again shortly' })
    }
    init.reply.json(exchange, 200, config)
  }
}
