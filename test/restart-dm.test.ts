/**
 * A device that stops abruptly ends, once restarted, with every direct message it had read: each one kept in its
 * vault or read again by its catch-up. Its ratchet sessions and the ids of the records it handled are never on disk
 * ahead of its message states: a session saved past a message the states lacked refused that message as a duplicate
 * when the catch-up fetched it again — lost (saved apart, a tab closed a moment after a DM arrived lost it); and its
 * one-time prekey is used up only once the session it opened is saved. Real relay with its store, real clients; the
 * crash is a disk that stops after one of its writes (nothing that waits for a write happens after it), and the
 * device restarted on what that disk held.
 */

import type { UndecryptableDirectMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { type Device, startDevice } from './helpers/device.ts'
import { until } from './helpers/room-inbox.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'
import { backendOf, dyingDisk, type VaultCopy } from './helpers/vault-copies.ts'

const stoppers = stopAfterEach()

const MESSAGES = 40
const SEND_GAP_MS = 100
/**
 * Where the disk stops, counted in writes of DM entries: while the first message opens the session (`setup`), or
 * once it is set up, early, mid-way and late.
 */
const DEATHS = [
  { during: 'setup', at: 1 },
  { during: 'setup', at: 2 },
  ...[1, 2, 3, 5, 8].map((at) => ({ during: 'texts', at })),
] as const
const TIMEOUT_MS = 30_000

/** Resolves once `device` heard that message `id` was delivered. */
function delivered(device: Device, id: string): Promise<void> {
  return until(
    [[device.client.dms, 'message:delivered']],
    () => device.client.dms.status(id)?.every((s) => s.status === 'delivered') === true,
    () => `message ${id} not delivered`,
    TIMEOUT_MS,
  )
}

describe('a device whose disk stops while direct messages arrive', () => {
  it('behavior: wherever it stopped, the restart ends with every DM, none unreadable', async () => {
    const relay = await startStoreRelay(stoppers)
    const bootstrap = [relay.multiaddrs[0]!]
    const alice = await startDevice({ wallet: Wallet.createRandom(), bootstrap })
    stoppers.push(alice.close)
    for (const { during, at } of DEATHS) {
      const bobWallet = Wallet.createRandom()
      const disk = dyingDisk('dm/')
      const bob = await startDevice({ wallet: bobWallet, bootstrap, backend: disk.backend })
      await Promise.all([alice.client.dms.ready(), bob.client.dms.ready()])
      const toBob = alice.client.dm(bob.client.address)
      const where = `write ${at} ${during === 'setup' ? 'of the session set-up' : 'after the set-up'}`
      const texts = Array.from({ length: MESSAGES }, (_, i) => `dm ${i} (disk stops at ${where})`)
      let died: Promise<VaultCopy>
      if (during === 'setup') {
        died = disk.dieAfter(at)
        texts.unshift('hello')
      } else {
        // The session is set up and saved (a receipt leaves only once it is) before the disk may stop.
        await delivered(alice, (await toBob.send('hello')).id)
        died = disk.dieAfter(at)
      }
      const sending = (async () => {
        for (const text of texts) {
          await toBob.send(text)
          await new Promise((resolve) => setTimeout(resolve, SEND_GAP_MS))
        }
      })()
      const copy = await Promise.race([
        died,
        sending.then(() => new Promise<VaultCopy>((resolve) => setTimeout(resolve, TIMEOUT_MS))),
      ])
      expect(copy, `the disk never reached ${where}`).toBeDefined()
      // Stopped abruptly: off the network at once, nothing more written.
      await bob.client.libp2p.stop()
      void bob.client.stop().catch(() => undefined)

      const again = await startDevice({ wallet: bobWallet, bootstrap, backend: backendOf(copy!) })
      stoppers.push(again.close)
      const undecryptable: UndecryptableDirectMessage[] = []
      again.client.dms.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail))
      await again.client.dms.ready()
      await sending
      const conversation = again.client.dm(alice.client.address)
      const kept = (): string[] => conversation.keptMessages().flatMap((m) => m.text ?? [])
      const missing = (): string[] => texts.filter((text) => !kept().includes(text))
      await until(
        [[again.client.dms, 'message:received']],
        () => missing().length === 0,
        () =>
          `disk stopped at ${where}: missing ${missing().length} (${JSON.stringify(missing().slice(0, 5))}…); ` +
          `undecryptable: ${JSON.stringify(undecryptable.map((u) => u.reason))}`,
        TIMEOUT_MS,
      )
      expect(undecryptable).toEqual([])
      expect(new Set(kept()).size).toBe(kept().length)
      await again.close()
    }
  }, 400_000)
})
