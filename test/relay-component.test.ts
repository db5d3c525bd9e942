/**
 * The relay component (`createRelay`) with its real services — anchoring on a Hardhat chain, members' leaf lists,
 * the HTTP server — started and stopped in one order, with one metrics surface, and a stop() that is idempotent.
 */
import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { leafLists } from '../node/src/audit/leaf-list-intake.ts'
import { anchoring } from '../node/src/audit/relay-anchoring.ts'
import {
  createRelay,
  type Relay,
  type RelayComponents,
  type RelayService,
  type RelayServiceFactories,
} from '../node/src/relay/create-relay.ts'
import { httpServer } from '../node/src/relay/http/service.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'

let chain: TestChain

beforeAll(async () => {
  chain = await startTestChain()
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

/** What happened, in order: `<service>:<start|stop>`, each with whether the relay node was running then. */
type Log = Array<{ event: string; nodeRunning: boolean }>

/** `factory`'s real service, with its start and stop written to `log` (and nothing else changed). */
function logged<S extends RelayService>(
  name: string,
  factory: (components: RelayComponents) => S,
  log: Log,
): (components: RelayComponents) => S {
  return (components) => {
    const service = factory(components)
    const start = service.start?.bind(service)
    const stop = service.stop?.bind(service)
    const nodeRunning = (): boolean => {
      try {
        return components.node.libp2p.status === 'started'
      } catch {
        return false
      }
    }
    return Object.assign(service, {
      async start() {
        log.push({ event: `${name}:start`, nodeRunning: nodeRunning() })
        await start?.()
      },
      async stop() {
        log.push({ event: `${name}:stop`, nodeRunning: nodeRunning() })
        await stop?.()
      },
    })
  }
}

async function relayWithEveryService(log: Log, httpPort = 0): Promise<Relay> {
  const services: RelayServiceFactories = {
    // Given out of order on purpose: the component's order is what counts.
    http: logged('http', httpServer({ port: httpPort, webRoot: await tempDir('relay-component-web-') }), log),
    leafLists: logged('leafLists', leafLists({ provider: chain.provider, auditLog: chain.addresses.auditLog }), log),
    anchoring: logged(
      'anchoring',
      anchoring({
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        auditLog: chain.addresses.auditLog,
        wallet: new Wallet(chain.accounts[7]!.privateKey),
      }),
      log,
    ),
  }
  return createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    provider: chain.provider,
    dataDir: await tempDir('relay-component-'),
    services,
  })
}

describe('createRelay', () => {
  it('behavior: the node starts first, then anchoring, leaf lists and HTTP; they stop in reverse, then the node; stop() is idempotent', async () => {
    const log: Log = []
    const relay = await relayWithEveryService(log)
    await relay.start()
    expect(log).toEqual([
      { event: 'anchoring:start', nodeRunning: true },
      { event: 'leafLists:start', nodeRunning: true },
      { event: 'http:start', nodeRunning: true },
    ])
    const http = relay.services.http!
    expect((await fetch(new URL('/healthz', http.url))).status).toBe(200)

    // One metrics surface: the node's, every service's (the anchorer's, the server's own), once each.
    const metrics = await (await fetch(new URL('/metrics', http.url))).text()
    for (const name of [
      'securechat_relay_rooms',
      'securechat_anchor_pending_leaves',
      'securechat_http_responses_total',
    ]) {
      expect(
        metrics
          .split('\n')
          .filter((line) => line === `# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}`),
      ).toHaveLength(1)
    }
    const stats = relay.stats()
    expect(stats.node.connections).toBe(0)
    expect(stats.proofs).toEqual({ leaves: 0, maxLeaves: expect.any(Number) })
    expect(Object.keys(stats.services)).toEqual(['anchoring', 'leafLists'])

    log.length = 0
    await Promise.all([relay.stop(), relay.stop()])
    await relay.stop()
    expect(log).toEqual([
      { event: 'http:stop', nodeRunning: true },
      { event: 'leafLists:stop', nodeRunning: true },
      { event: 'anchoring:stop', nodeRunning: true },
    ])
    expect(() => relay.node.libp2p).toThrow('relay not started')
    await expect(fetch(new URL('/healthz', http.url))).rejects.toThrow()
  }, 60_000)

  it('error: a service that cannot start (its port taken) stops what started before it, and the node', async () => {
    const taken = createServer()
    await new Promise<void>((listening) => taken.listen(0, '127.0.0.1', listening))
    const port = (taken.address() as { port: number }).port
    try {
      const log: Log = []
      const relay = await relayWithEveryService(log, port)
      await expect(relay.start()).rejects.toMatchObject({ name: 'ConfigError', details: { port } })
      expect(log.map(({ event }) => event)).toEqual([
        'anchoring:start',
        'leafLists:start',
        'http:start',
        'http:stop',
        'leafLists:stop',
        'anchoring:stop',
      ])
      expect(() => relay.node.libp2p).toThrow('relay not started')
      await relay.stop()
    } finally {
      taken.close()
    }
  }, 60_000)
})
