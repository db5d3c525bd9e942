/**
 * `npm start`: a complete SecureChat network on this machine — a relay node and a demo room —
 * printing exactly how to chat from two terminals. Ctrl-C stops everything.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeInvite } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { createNodeLogger } from '../log.ts'
import { loadOrCreatePeerKey } from '../relay/peer-key.ts'
import { RelayNode } from '../relay/relay.ts'
import { hardhatDevAccounts } from './chain.ts'

const DEVNET_DIR = resolve(process.env.SECURECHAT_DEVNET_DIR ?? '.securechat/devnet')
const RELAY_TCP_PORT = Number(process.env.SECURECHAT_RELAY_TCP_PORT ?? 4001)
const RELAY_WS_PORT = Number(process.env.SECURECHAT_RELAY_WS_PORT ?? 4002)

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`)
}

async function main(): Promise<void> {
  // Installed first: Ctrl-C at any moment after this stops what has started.
  const interrupted = new Promise<void>((done) => {
    process.once('SIGINT', () => done())
    process.once('SIGTERM', () => done())
  })
  const { factory } = createNodeLogger({ json: false, level: process.env.SECURECHAT_LOG_LEVEL ?? 'warn' })
  const relay = new RelayNode({
    privateKey: await loadOrCreatePeerKey(join(DEVNET_DIR, 'relay')),
    listen: [`/ip4/127.0.0.1/tcp/${RELAY_TCP_PORT}`, `/ip4/127.0.0.1/tcp/${RELAY_WS_PORT}/ws`],
    logger: factory,
  })
  try {
    await relay.start()
  } catch (err) {
    throw new Error(
      `the relay could not listen on 127.0.0.1:${RELAY_TCP_PORT} and :${RELAY_WS_PORT} (${String(err)}). ` +
        'Is another `npm start` running? Stop it, or set SECURECHAT_RELAY_TCP_PORT / SECURECHAT_RELAY_WS_PORT.',
    )
  }
  const [tcpAddress, wsAddress] = relay.multiaddrs
  const [, alice, bob] = hardhatDevAccounts()
  const manifest = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: new Wallet(alice!.privateKey) }),
    name: 'lobby',
  })
  const invite = encodeInvite({ manifest, relays: [tcpAddress!] })
  const inviteFile = join(DEVNET_DIR, 'lobby.invite')
  await mkdir(DEVNET_DIR, { recursive: true })
  await writeFile(inviteFile, `${invite}\n`)

  out('SecureChat devnet is running.')
  out()
  out(`  relay (Node peers)   ${tcpAddress}`)
  out(`  relay (browsers)     ${wsAddress}`)
  out()
  out('Demo wallets. These are PUBLIC Hardhat test keys: use them on this local network only.')
  out(`  alice  ${alice!.address}  ${alice!.privateKey}`)
  out(`  bob    ${bob!.address}  ${bob!.privateKey}`)
  out()
  out(`A demo room "lobby" is ready; its invite is in ${inviteFile}. Chat from two terminals:`)
  out()
  out(`  terminal 1:  SECURECHAT_PRIVATE_KEY=${alice!.privateKey} npx securechat chat --room ${inviteFile}`)
  out(`  terminal 2:  SECURECHAT_PRIVATE_KEY=${bob!.privateKey} npx securechat chat --room ${inviteFile}`)
  out()
  out('Create your own room with `npx securechat room create --name <name> --bootstrap <relay address>`.')
  out('Ctrl-C stops the devnet.')

  await interrupted
  out('stopping…')
  await relay.stop()
  out('devnet stopped.')
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
