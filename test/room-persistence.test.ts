import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { DuplicateMessageError } from '@securechat/sdk/crypto'
import { WrongPassphraseError } from '@securechat/sdk/errors'
import { walletSigner } from '@securechat/sdk/identity'
import { loadRoomKeys, type Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { openVault, platformVaultBackend, VAULT_ARGON2ID_MIN, type Vault } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { RelayNode } from '../node/src/relay/relay.ts'
import { type CliProcess, spawnCli, tempDir } from './helpers/cli.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const ALICE_PASSPHRASE = 'alice keeps this one in her head'
// A public Hardhat test key (never holds real funds).
const BOB_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'
const BOB_PASSPHRASE = 'bob keeps this one in a password manager'

const stoppers = stopAfterEach()

/** A started client on `vault`; stopping it also closes the vault (as the CLI does). */
async function startDevice(
  relay: RelayNode,
  wallet: HDNodeWallet,
  vault: Vault,
): Promise<SecureChatClient & { close: () => Promise<void> }> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    bootstrap: [relay.multiaddrs[0]!],
    vault,
  })
  const close = async (): Promise<void> => {
    await client.stop()
    await vault.close()
  }
  stoppers.push(close)
  await client.start()
  return Object.assign(client, { close })
}

interface WireRecord {
  type: string
  from: string
  epoch?: number
  to?: Array<{ peer: string }>
  payload?: { ct: string }
}

/** Every record the relay accepts on any topic, with its gossip sender. */
function recordWire(relay: RelayNode): WireRecord[] {
  const records: WireRecord[] = []
  relay.libp2p.services.pubsub.addEventListener('message', (event) => {
    if (event.detail.type !== 'signed') return
    const record = JSON.parse(new TextDecoder().decode(event.detail.data)) as WireRecord
    records.push({ ...record, from: event.detail.from.toString() })
  })
  return records
}

/** Epoch and iteration of a sender-key ciphertext: version u8, epoch u32, iteration u32 (big-endian). */
function senderKeyHeader(ct: string): { epoch: number; iteration: number } {
  const bytes = Buffer.from(ct, 'base64url')
  return { epoch: bytes.readUInt32BE(1), iteration: bytes.readUInt32BE(5) }
}

/** Resolves once `listen` says it is listening (it has joined and found the relay's mesh). */
async function untilListening(cli: CliProcess): Promise<void> {
  let listening = false
  const exited = cli.exited.then((code) => {
    if (!listening) throw new Error(`listen exited (${code}): ${cli.stderr()}`)
  })
  while (!cli.stderr().includes('listening on room')) {
    await Promise.race([new Promise((resolve) => cli.child.stderr!.once('data', resolve)), exited])
  }
  listening = true
}

function nextMessage(room: Room, text: string): Promise<RoomMessage> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<RoomMessage>): void => {
      if (event.detail.text !== text) return
      room.removeEventListener('message:received', listener)
      resolve(event.detail)
    }
    room.addEventListener('message:received', listener)
  })
}

describe('room sender keys in the vault', () => {
  it('behavior: a restarted sender seals a new epoch; a restarted reader reads on with the chains it held; the vault keeps no used message key', async () => {
    const relay = await startRelay(stoppers)
    const wallets = { alice: Wallet.createRandom(), bob: Wallet.createRandom() }
    const dirs = { alice: await tempDir('room-alice-'), bob: await tempDir('room-bob-') }
    const openAlice = (passphrase = ALICE_PASSPHRASE): Promise<Vault> =>
      openVault({
        backend: platformVaultBackend(dirs.alice),
        unlock: { type: 'passphrase', passphrase },
        argon2id: VAULT_ARGON2ID_MIN,
      })
    const openBob = (): Promise<Vault> =>
      openVault({
        backend: platformVaultBackend(dirs.bob),
        unlock: { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: wallets.bob }) },
      })

    const alice = await startDevice(relay, wallets.alice, await openAlice())
    const bob = await startDevice(relay, wallets.bob, await openBob())
    const alicePeerId = alice.peerId.toString()
    const bobPeerId = bob.peerId.toString()
    const wire = recordWire(relay)
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'persistent' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([aliceRoom.waitForPeers(), bobRoom.waitForPeers()])
    const one = nextMessage(bobRoom, 'one')
    await aliceRoom.send('one')
    await one

    // Alice stops and comes back from her vault: same device, same room, a new epoch (her own
    // chain is never stored, so no key she used can come back).
    await alice.close()
    const vaultFile = join(dirs.alice, 'vault.json')
    const before = await readFile(vaultFile)
    await expect(openAlice('not what alice chose')).rejects.toBeInstanceOf(WrongPassphraseError)
    expect(await readFile(vaultFile)).toEqual(before)

    const aliceAgain = await startDevice(relay, wallets.alice, await openAlice())
    expect(aliceAgain.peerId.toString()).toBe(alicePeerId)
    const saved = await aliceAgain.savedRooms()
    expect(saved).toMatchObject([{ roomId: aliceRoom.id, name: 'persistent' }])
    const aliceRoomAgain = await aliceAgain.joinRoom(saved[0]!.manifest)
    await aliceRoomAgain.waitForPeers()
    const two = nextMessage(bobRoom, 'two')
    await aliceRoomAgain.send('two')
    await two

    const fromAlice = (records: WireRecord[]): WireRecord[] =>
      records.filter((r) => r.type === 'message' && r.from === alicePeerId)
    const [first, second] = fromAlice(wire).map((r) => r.payload!.ct)
    const firstEpoch = senderKeyHeader(first!).epoch
    const epoch = senderKeyHeader(second!).epoch
    expect(senderKeyHeader(first!)).toEqual({ epoch: firstEpoch, iteration: 0 })
    expect(senderKeyHeader(second!)).toEqual({ epoch, iteration: 0 })
    expect(epoch).not.toBe(firstEpoch)

    // Bob's device crashes (no goodbye reaches Alice, so she neither drops him nor rotates).
    await bob.libp2p.hangUp(relay.libp2p.peerId)
    await bob.close()

    // What Bob's vault holds cannot read the messages he already read (forward secrecy).
    const bobVault = await openBob()
    const bobStored = await loadRoomKeys(bobVault, aliceRoom.id)
    await bobVault.close()
    // (Alice only went offline, she did not leave the room: Bob keeps her first epoch too, for
    // what catch-up may still bring of it.)
    expect(bobStored!.inbound.epochs(alicePeerId)).toEqual([firstEpoch, epoch])
    await expect(
      bobStored!.inbound.decrypt({ senderId: alicePeerId, message: Buffer.from(second!, 'base64url') }),
    ).rejects.toBeInstanceOf(DuplicateMessageError)

    const bobAgain = await startDevice(relay, wallets.bob, await openBob())
    expect(bobAgain.peerId.toString()).toBe(bobPeerId)
    const sinceRestart = wire.length
    const bobRoomAgain = await bobAgain.joinRoom((await bobAgain.savedRooms())[0]!.manifest)
    const undecryptable: string[] = []
    bobRoomAgain.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail.reason))
    await bobRoomAgain.waitForPeers()
    const three = nextMessage(bobRoomAgain, 'three')
    await aliceRoomAgain.send('three')
    expect((await three).sender).toBe(wallets.alice.address)
    expect(undecryptable).toEqual([])
    // Read with the chain Bob had before the crash: Alice sealed no key to him since.
    const [third] = fromAlice(wire.slice(sinceRestart)).map((r) => r.payload!.ct)
    expect(senderKeyHeader(third!)).toEqual({ epoch, iteration: 1 })
    const keysToBob = wire
      .slice(sinceRestart)
      .filter((r) => r.type === 'keys' && r.from === alicePeerId && r.to!.some((e) => e.peer === bobPeerId))
    expect(keysToBob).toEqual([])

    // Alice's vault holds no chain of her own.
    await aliceAgain.close()
    const aliceVault = await openAlice()
    const aliceStored = await loadRoomKeys(aliceVault, aliceRoom.id)
    await aliceVault.close()
    expect(aliceStored?.inbound.epochs(alicePeerId) ?? []).toEqual([])

    // Leaving a room forgets it and its keys.
    await bobAgain.leaveRoom(bobRoomAgain.id)
    expect(await bobAgain.savedRooms()).toEqual([])
    await bobAgain.close()
    const bobLeft = await openBob()
    expect(await bobLeft.list('room/')).toEqual([])
    await bobLeft.close()
  })

  it('behavior: a reader killed (SIGKILL) right after a delivery restarts and reads on with the chain it held', async () => {
    const relay = await startRelay(stoppers)
    const wire = recordWire(relay)
    const alice = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }),
      bootstrap: [relay.multiaddrs[0]!],
    })
    stoppers.push(() => alice.stop())
    await alice.start()
    const { room, invite } = await alice.createRoom({ name: 'crash' })
    const bobDir = await tempDir('room-crash-bob-')
    const listen = () => {
      const bob = spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], {
        SECURECHAT_PRIVATE_KEY: BOB_KEY,
        SECURECHAT_VAULT_PASSPHRASE: BOB_PASSPHRASE,
      })
      stoppers.push(async () => {
        bob.kill('SIGKILL')
        await bob.exited
      })
      return bob
    }
    const text = (line: string): unknown => (JSON.parse(line) as { text?: unknown }).text

    const bobJoined = new Promise<string>((resolve) =>
      room.addEventListener('member:joined', (event) => resolve(event.detail.peerId), { once: true }),
    )
    const bob = listen()
    await untilListening(bob)
    const bobPeerId = await bobJoined
    await room.waitForPeers()
    await room.send('one')
    await bob.waitForLine((line) => text(line) === 'one')
    // Killed the moment the message is shown: whatever was not saved by then is lost.
    bob.kill('SIGKILL')
    await bob.exited

    const sinceRestart = wire.length
    const bobAgain = listen()
    await untilListening(bobAgain)
    await room.send('two')
    await bobAgain.waitForLine((line) => text(line) === 'two')
    expect(bobAgain.lines.filter((line) => line.includes('undecryptable'))).toEqual([])
    // Read with the chain saved before the kill: Alice sealed no key to Bob since.
    const keysToBob = wire
      .slice(sinceRestart)
      .filter((r) => r.type === 'keys' && r.to!.some((entry) => entry.peer === bobPeerId))
    expect(keysToBob).toEqual([])
  })
})
