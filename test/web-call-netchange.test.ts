/**
 * A call across a network change (issue 17): a DM video call between two Chromium pages, alice's in a network
 * namespace of her own, bob's beside the relay in another, joined by a veth pair. Once each decodes the other, alice's
 * address changes — a new one added, the old one removed, as a phone moving from Wi-Fi to mobile data — and with no
 * click and no reload each page must decode the other's video and hear its audio again.
 * `test/scenarios/web-call-netchange.ts` drives it in the server's namespace and reports what it saw, asserted here.
 */
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLinkedNamespaces, type LinkedNamespaces, runInNamespace } from './helpers/netns.ts'
import type { NetChangeSeen } from './scenarios/web-call-netchange.ts'

const SCENARIO = resolve(import.meta.dirname, 'scenarios/web-call-netchange.ts')

let namespaces: LinkedNamespaces
let seen: NetChangeSeen

beforeAll(async () => {
  namespaces = await createLinkedNamespaces('scnet')
  seen = await runInNamespace<NetChangeSeen>(namespaces.server, SCENARIO, [
    namespaces.client,
    namespaces.serverAddress,
    namespaces.clientAddress,
  ])
  console.log(
    `call across a network change: media back after ${seen.secondsToMedia.alice} s (alice), ${seen.secondsToMedia.bob} s (bob); relay reconnected after ${seen.secondsToRelay} s`,
    JSON.stringify(seen),
  )
}, 420_000)

afterAll(() => namespaces?.remove())

describe('a call across a network change', () => {
  it('behavior: alice’s address changes under a DM video call — with no click and no reload, each page decodes the other’s video and audio again', () => {
    expect(seen.before.aliceDecoded).toBeGreaterThan(0)
    expect(seen.before.bobDecoded).toBeGreaterThan(0)
    expect(seen.secondsToMedia, JSON.stringify(seen)).toEqual({
      alice: expect.any(Number),
      bob: expect.any(Number),
    })
    for (const side of ['alice', 'bob'] as const) {
      expect(seen.secondsToMedia[side], JSON.stringify(seen)).toBeGreaterThanOrEqual(0)
      expect(seen.secondsToAudio[side], JSON.stringify(seen)).toBeGreaterThanOrEqual(0)
    }
  })
})
