/**
 * A room call through the relay's forwarding unit (issue 17, larger calls): Debian's Janus run by the relay
 * (`--sfu`), three Chromium pages with fake media, SFrame end to end. Everything runs in a network namespace of the
 * test's own, one dummy interface besides loopback (Janus's ICE gathers nothing on loopback; nothing touches the
 * machine's interfaces): `test/scenarios/web-call-sfu.ts` drives it there and reports what it saw, asserted here.
 */
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPrivateNamespace, type PrivateNamespace, runInNamespace } from './helpers/netns.ts'
import type { SfuCallSeen } from './scenarios/web-call-sfu.ts'

const SCENARIO = resolve(import.meta.dirname, 'scenarios/web-call-sfu.ts')

let namespace: PrivateNamespace
let seen: SfuCallSeen

beforeAll(async () => {
  namespace = await createPrivateNamespace('scsfu')
  seen = await runInNamespace<SfuCallSeen>(namespace.name, SCENARIO, [namespace.interface])
  console.log('call through the forwarding unit:', JSON.stringify(seen))
}, 420_000)

afterAll(() => namespace?.remove())

describe('a room call through the relay’s forwarding unit', () => {
  it('behavior: started on a relay with --sfu, every page’s call goes through it: one connection sends, one receives', () => {
    for (const page of ['alice', 'bob', 'carol']) {
      expect(seen.sfuRelay[page]).toBe(seen.relayPeerId)
      expect(seen.connections[page]).toEqual(['recvonly', 'sendonly'])
    }
  })

  it('behavior: three pages each decode the other two’s video and audio, every frame opened by SFrame', () => {
    expect(seen.threeWayDecoded, JSON.stringify(seen.diagnostics ?? seen.threeWay)).toBe(true)
    for (const [page, others] of Object.entries(seen.threeWay)) {
      expect(Object.keys(others).sort(), page).toEqual(['alice', 'bob', 'carol'].filter((p) => p !== page))
      for (const got of Object.values(others)) {
        expect(got.framesDecoded).toBeGreaterThan(20)
        expect(got.audioEnergy).toBeGreaterThan(0)
        expect(got.decrypted).toBeGreaterThan(got.framesDecoded)
      }
    }
  })

  it('behavior: carol leaves — alice and bob drop her, start new keys, and go on decoding each other', () => {
    expect(seen.afterLeave.kidChanged).toEqual({ alice: true, bob: true })
    expect(seen.afterLeave.others).toEqual({ alice: 1, bob: 1 })
    expect(seen.afterLeave.stillDecoding).toBe(true)
  })

  it('behavior: Janus dies under the call — the relay starts it again, and the calls reach it again by themselves, saying why meanwhile', () => {
    expect(seen.reconnect).toMatchObject({ mediaErrorSeen: true, janusRestarted: true, decodingAgain: true })
  })

  it('behavior: what the unit forwards is ciphertext — a page without frame encryption decodes nothing of the others, and its plain frames are dropped', () => {
    const { droppedFromErin, decodedFromErin, erinDecoded, erinReceivedPackets } = seen.passThrough
    expect(erinReceivedPackets).toBeGreaterThan(500)
    for (const page of ['alice', 'bob']) {
      expect(droppedFromErin[page]).toBeGreaterThan(50)
      expect(decodedFromErin[page]).toBe(0)
    }
    expect(Object.keys(erinDecoded).sort()).toEqual(['alice', 'bob'])
    // VP8 now and then takes a ciphertext frame for a (corrupt) picture: a handful at most, against the hundreds a
    // page with the keys decodes meanwhile (as in `web-call.test.ts`).
    for (const frames of Object.values(erinDecoded)) expect(frames).toBeLessThan(20)
  })
})
