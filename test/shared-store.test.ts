/**
 * Two relay processes on one PostgreSQL database (`--store postgres://…`), not linked to each other: a member
 * served by either sees the same history — what passed only through one relay is served by the other as well.
 * Needs the PostgreSQL of `.ci/run` (docs/development.md); each run gets a schema of its own.
 */
import { cp, rm } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { queryHistory } from '@securechat/sdk/history'
import { encodeInvite, type Room, roomTopic } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { killAfterEach, runCli, spawnCli, startRelayProcess, tempDir, waitFor } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { BOB } from './helpers/keys.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const POSTGRES_URL =
  process.env.SECURECHAT_TEST_POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/securechat_test'
const BOB_ENV = { SECURECHAT_PRIVATE_KEY: BOB.key, SECURECHAT_VAULT_PASSPHRASE: 'bob keeps this one somewhere safe' }

const track = killAfterEach()
const stoppers = stopAfterEach()

/** A schema of its own, dropped after the test; the relays reach it through the URL's `search_path`. */
async function freshSchema(): Promise<string> {
  const schema = `shared_store_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  stoppers.push(async () => {
    const dropper = new pg.Client({ connectionString: POSTGRES_URL })
    await dropper.connect()
    await dropper.query(`DROP SCHEMA ${schema} CASCADE`)
    await dropper.end()
  })
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return url.toString()
}

async function member(bootstrap: string): Promise<SecureChatClient> {
  const { client, close } = await startDevice({
    wallet: Wallet.createRandom(),
    bootstrap: [bootstrap],
    presenceIntervalMs: 1_000,
  })
  stoppers.push(close)
  return client
}

function membership(room: Room, peerId: string, present: boolean): Promise<void> {
  const holds = (): boolean => room.members().some((m) => m.peerId === peerId) === present
  return new Promise((resolve) => {
    if (holds()) return resolve()
    const check = (): void => {
      if (!holds()) return
      room.removeEventListener('member:joined', check)
      room.removeEventListener('member:left', check)
      resolve()
    }
    room.addEventListener('member:joined', check)
    room.addEventListener('member:left', check)
  })
}

interface Printed {
  type: string
  id: string
  text?: string
  sender?: string
  lamport?: number
}

describe('two relays on one PostgreSQL database', () => {
  it('behavior: a member served by either relay sees the same history, each relay serving what only the other saw', async () => {
    const store = await freshSchema()
    // Started together: the schema's migration runs once, under its advisory lock.
    const [relayA, relayB] = await Promise.all([
      startRelayProcess({ args: ['--store', store] }),
      startRelayProcess({ args: ['--store', store] }),
    ])
    // Stopped before the schema is dropped (stoppers run newest first).
    for (const relay of [relayA, relayB]) {
      stoppers.push(async () => {
        relay.kill('SIGTERM')
        await relay.exited
      })
    }
    const [addressA, addressB] = [relayA.multiaddrs[0]!, relayB.multiaddrs[0]!]
    // Alice is served by relay A only, Carol by relay B only; the relays are not linked.
    const alice = await member(addressA)
    const carol = await member(addressB)
    const { room: aliceRoom } = await alice.createRoom({ name: 'shared' })
    const carolRoom = await carol.joinRoom(aliceRoom.manifest)
    // An invite without relay hints: each command below reaches only the relays it names.
    const invite = encodeInvite({ manifest: aliceRoom.manifest, relays: [] })

    // Bob listens once, through both relays: Alice and Carol learn his keys (and each other, through him).
    const bobDir = await tempDir('shared-store-bob-')
    stoppers.push(() => rm(bobDir, { recursive: true, force: true }))
    const listen = track(
      spawnCli(
        ['listen', '--room', invite, '--json', '--data-dir', bobDir, '--bootstrap', addressA, '--bootstrap', addressB],
        BOB_ENV,
      ),
    )
    await waitFor(
      () => /\(peer (\w+)\)/.test(listen.stderr()),
      () => listen.stderr(),
      60_000,
    )
    const bobPeer = /\(peer (\w+)\)/.exec(listen.stderr())![1]!
    await Promise.all([membership(aliceRoom, bobPeer, true), membership(carolRoom, bobPeer, true)])
    const hello = [await aliceRoom.send('hello from alice'), await carolRoom.send('hello from carol')]
    for (const { id } of hello) await listen.waitForLine((l) => l.includes(id), 60_000)
    listen.kill('SIGTERM')
    await listen.exited
    await Promise.all([membership(aliceRoom, bobPeer, false), membership(carolRoom, bobPeer, false)])

    // While Bob is away, each speaks through its own relay: only A sees Alice's, only B sees Carol's.
    const sent: string[] = []
    for (let i = 0; i < 3; i++) {
      sent.push((await aliceRoom.send(`alice ${i}`)).id)
      sent.push((await carolRoom.send(`carol ${i}`)).id)
    }
    const reader = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [],
      transports: [tcp()],
    })
    stoppers.push(async () => {
      await reader.stop()
    })
    // Relay A serves Carol's too, which only B saw (waiting for B's write, which follows acceptance at once).
    const stored = async (): Promise<string[]> =>
      (
        await queryHistory(reader, multiaddr(addressA), {
          topic: roomTopic(aliceRoom.id),
          range: { by: 'time' },
          types: ['message'],
        })
      ).records.map(({ record }) => record.id)
    let held: string[] = []
    const deadline = Date.now() + 20_000
    while (!sent.every((id) => held.includes(id)) && Date.now() < deadline) held = await stored()
    expect(held).toEqual(expect.arrayContaining(sent))

    // Bob's device comes back twice from the same state: once through relay A, once through relay B.
    const bobCopy = await tempDir('shared-store-bob-copy-')
    stoppers.push(() => rm(bobCopy, { recursive: true, force: true }))
    await cp(bobDir, bobCopy, { recursive: true })
    const [throughA, throughB] = await Promise.all([
      runCli(['history', '--room', invite, '--json', '--data-dir', bobDir, '--bootstrap', addressA], BOB_ENV),
      runCli(['history', '--room', invite, '--json', '--data-dir', bobCopy, '--bootstrap', addressB], BOB_ENV),
    ])
    expect(throughA.code, throughA.stderr).toBe(0)
    expect(throughB.code, throughB.stderr).toBe(0)
    const printedA = throughA.stdout.split('\n').map((line) => JSON.parse(line) as Printed)
    const printedB = throughB.stdout.split('\n').map((line) => JSON.parse(line) as Printed)
    expect(printedA.filter((p) => p.type !== 'message')).toEqual([])
    expect(printedA.map((p) => p.id).sort()).toEqual([...sent].sort())
    // The same history, in the same order, whichever relay served it.
    const shown = (printed: Printed[]) =>
      printed.map(({ id, text, sender, lamport }) => ({ id, text, sender, lamport }))
    expect(shown(printedB)).toEqual(shown(printedA))
    expect(printedA.map((p) => p.text).filter((t) => t?.startsWith('carol'))).toEqual(['carol 0', 'carol 1', 'carol 2'])
  }, 240_000)
})
