/**
 * vitest helper for the browser tests: the relay and its HTTP side as browsers meet them on a
 * devnet (WebSockets on loopback, the app told about the test chain). Callers stop what they get.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RelayHttpServer, type RelayHttpServerInit } from '../../node/src/relay/http-server.ts'
import { type RelayInit, RelayNode } from '../../node/src/relay/relay.ts'
import type { TestChain } from './chain.ts'

/** A started relay with a WebSocket listener on 127.0.0.1 that reads `chain`. */
export async function startBrowserRelay(
  chain: TestChain,
  init: Omit<RelayInit, 'privateKey' | 'listen' | 'provider'> = {},
): Promise<RelayNode> {
  const relay = new RelayNode({
    ...init,
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    provider: chain.provider,
  })
  await relay.start()
  return relay
}

/**
 * The relay's started HTTP server serving `webRoot`; its `/config.json` names `chain`, the audit
 * log and `contracts`, and lets the app dial loopback.
 */
export async function startAppServer(
  params: { relay: RelayNode; chain: TestChain; webRoot: string; contracts?: Record<string, string> } & Omit<
    RelayHttpServerInit,
    'relay' | 'port' | 'webRoot' | 'app'
  >,
): Promise<RelayHttpServer> {
  const { relay, chain, webRoot, contracts, ...init } = params
  const http = new RelayHttpServer({
    ...init,
    relay,
    port: 0,
    webRoot,
    app: {
      chainId: chain.chainId,
      rpcUrl: chain.rpcUrl,
      contracts: { auditLog: chain.addresses.auditLog, ...contracts },
      allowPrivateAddresses: true,
    },
  })
  await http.start()
  return http
}
