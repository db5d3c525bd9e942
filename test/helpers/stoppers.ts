/**
 * vitest helper for tests that start in-process nodes: whatever a test starts is stopped after
 * it, newest first, pass or fail.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach } from 'vitest'
import { RelayNode } from '../../node/src/relay/relay.ts'

export type Stoppers = Array<() => Promise<unknown>>

/** Call at a test file's top level; push a stop function for each thing a test starts. */
export function stopAfterEach(): Stoppers {
  const stoppers: Stoppers = []
  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop()
  })
  return stoppers
}

/** A relay on loopback TCP in this process, stopped after the test. */
export async function startRelay(stoppers: Stoppers): Promise<RelayNode> {
  const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  await relay.start()
  stoppers.push(() => relay.stop())
  return relay
}
