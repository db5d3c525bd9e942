/**
 * vitest helper for the browser tests: the relay component as browsers meet it on a devnet
 * (WebSockets on loopback, its HTTP server telling the app about the test chain). Callers stop
 * what they get.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay, type Relay, type RelayServiceFactories } from '../../node/src/relay/create-relay.ts'
import { type HttpServiceInit, httpServer } from '../../node/src/relay/http/service.ts'
import type { RelayInit } from '../../node/src/relay/relay.ts'
import type { TlsCredentials } from '../../node/src/relay/tls.ts'
import type { TestChain } from './chain.ts'

/**
 * A started relay with a WebSocket listener on 127.0.0.1 that reads `chain`, and an HTTP server
 * serving `webRoot`, whose `/config.json` names `chain`, the audit log and `contracts`, and lets
 * the app dial loopback. `services` plugs in more (anchoring, leaf lists, a message store; they keep their files
 * in `dataDir`). `peers`: relays it stays connected to, which its `/config.json` names too (`--peer`).
 */
export async function startBrowserRelay(
  chain: TestChain,
  params: {
    webRoot: string
    contracts?: Record<string, string>
    dataDir?: string
    services?: Omit<RelayServiceFactories, 'http'>
    peers?: string[]
    /** Default: one WebSocket listener, `/ip4/127.0.0.1/tcp/0/ws`. */
    listen?: string[]
    /** The relay's TLS pair: its `/tls/ws` listeners serve `wss://`, its HTTP server HTTPS. */
    tls?: TlsCredentials
    /** Records a second per device (`--records-per-second`, `--record-burst`): raised for a test's bulk import. */
    recordRates?: RelayInit['recordRates']
  } & Omit<HttpServiceInit, 'port' | 'webRoot' | 'app'>,
): Promise<Relay> {
  const { webRoot, contracts, dataDir, services, peers, listen, tls, recordRates, ...http } = params
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: listen ?? ['/ip4/127.0.0.1/tcp/0/ws'],
    ...(tls === undefined ? {} : { tls }),
    provider: chain.provider,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(peers === undefined ? {} : { peers }),
    ...(recordRates === undefined ? {} : { recordRates }),
    services: {
      ...services,
      http: httpServer({
        ...http,
        port: 0,
        webRoot,
        app: {
          chainId: chain.chainId,
          rpcUrl: chain.rpcUrl,
          contracts: { auditLog: chain.addresses.auditLog, ...contracts },
          allowPrivateAddresses: true,
          ...(peers === undefined ? {} : { relays: peers }),
        },
      }),
    },
  })
  await relay.start()
  return relay
}
