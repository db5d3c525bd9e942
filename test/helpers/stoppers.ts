/**
 * vitest helper for tests that start in-process nodes: whatever a test starts is stopped after
 * it, newest first, pass or fail.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach } from 'vitest'
import type { LightClient } from '../../bench/light-client.ts'
import { type CreateRelayInit, createRelay, type Relay } from '../../node/src/relay/create-relay.ts'
import { RelayNode } from '../../node/src/relay/relay.ts'
import { messageStore } from '../../node/src/relay/store-service.ts'

export type Stoppers = Array<() => Promise<unknown>>

/** Call at a test file's top level; push a stop function for each thing a test starts. */
export function stopAfterEach(): Stoppers {
  const stoppers: Stoppers = []
  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop()
  })
  return stoppers
}

/** A relay on loopback TCP in this process (`init` beside its key and address), stopped after the test. */
export async function startRelay(
  stoppers: Stoppers,
  init: Omit<ConstructorParameters<typeof RelayNode>[0], 'privateKey' | 'listen'> = {},
): Promise<RelayNode> {
  const relay = new RelayNode({
    ...init,
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  await relay.start()
  stoppers.push(() => relay.stop())
  return relay
}

/** The relay's loopback TCP address (not its WebSocket one), as a Node client dials it. */
export function tcpAddressOf(relay: RelayNode): string {
  const address = relay.multiaddrs.find((ma) => ma.includes('/tcp/') && !ma.includes('/ws'))
  if (address === undefined) throw new Error('relay has no TCP address')
  return address
}

/** A list of light clients (`bench/light-client.ts`) that are stopped after the test: push each one started. */
export function lightClients(stoppers: Stoppers): LightClient[] {
  const clients: LightClient[] = []
  stoppers.push(() => Promise.all(clients.map((client) => client.libp2p.stop())))
  return clients
}

/** A relay component as `securechat relay` runs it by default — with its SQLite message store, in a temp dir — stopped and removed after the test. */
export async function startStoreRelay(
  stoppers: Stoppers,
  init: Pick<CreateRelayInit, 'recordRates'> = {},
): Promise<Relay> {
  const dataDir = await mkdtemp(join(tmpdir(), 'store-relay-'))
  stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
  const relay = createRelay({
    ...init,
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir,
    services: { store: messageStore() },
  })
  await relay.start()
  stoppers.push(() => relay.stop())
  return relay
}
