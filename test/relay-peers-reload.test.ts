/**
 * The linked relays (`--peer`, or `peers` in the config file) changed without a restart: a `securechat relay` process
 * reads its settings again on SIGHUP, dials the relays added at once, stops redialling and hangs up on the ones
 * removed, names to its clients only the ones it now links to, and keeps its links when the new settings do not parse.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, fetchRelayHints } from '@securechat/sdk/client'
import { describe, expect, it } from 'vitest'
import { loadOrCreatePeerKey } from '../node/src/relay/peer-key.ts'
import { type CliProcess, freePort, killAfterEach, startRelayProcess, tempDir } from './helpers/cli.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

/** A relay's data dir, PeerId and address, fixed before it starts: it comes back at the same address. */
async function planRelay(): Promise<{ dataDir: string; listen: string; address: string; peerId: string }> {
  const dataDir = await tempDir('peers-reload-')
  const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(dataDir)).toString()
  const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`
  return { dataDir, listen, address: `${listen}/p2p/${peerId}`, peerId }
}

/** The `n`th stdout line of `cli` (seen or to come) that has every one of `texts`. */
function nthLine(cli: CliProcess, n: number, ...texts: string[]): Promise<string> {
  let seen = 0
  return cli.waitForLine((line) => texts.every((text) => line.includes(text)) && ++seen >= n, 60_000)
}

/** How many stdout lines of `cli` so far have every one of `texts`. */
function count(cli: CliProcess, ...texts: string[]): number {
  return cli.lines.filter((line) => texts.every((text) => line.includes(text))).length
}

describe('linked relays reloaded on SIGHUP', () => {
  it('behavior: SIGHUP links the relay to the --peer list of its config file as it now is; settings that do not parse change nothing', async () => {
    const [planB, planC] = await Promise.all([planRelay(), planRelay()])
    const start = (plan: typeof planB) =>
      startRelayProcess({ dataDir: plan.dataDir, listen: [plan.listen], startTimeoutMs: 90_000 }).then(track)
    const [, c] = await Promise.all([start(planB), start(planC)])
    const file = join(await tempDir('peers-reload-config-'), 'relay.json')
    await writeFile(file, JSON.stringify({ peers: [planB.address] }))
    const a = track(await startRelayProcess({ args: ['--config', file], startTimeoutMs: 90_000 }))
    await nthLine(a, 1, 'connected to peer relay')
    expect(count(a, 'connected to peer relay', planB.address)).toBeGreaterThan(0)

    const client = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
    stoppers.push(async () => client.stop())
    await client.dial(multiaddr(a.multiaddrs[0]!))
    const hinted = async () => (await fetchRelayHints(client, peerIdFromString(a.peerId))).map((hint) => hint.peer)
    expect(await hinted()).toEqual([planB.peerId])

    // A file broken mid-edit: the relay says why and keeps its links (and, without TLS, is not ended by SIGHUP).
    await writeFile(file, '{"peers": [')
    a.kill('SIGHUP')
    expect(JSON.parse(await nthLine(a, 1, 'peers:reload-failed'))).toMatchObject({ error: expect.any(String) })
    expect(await hinted()).toEqual([planB.peerId])
    // Entries that parse as JSON but name no relay (an outside probe's: these took the relay down with a stack trace).
    for (const [n, peers] of [
      ['garbage'],
      [`/ip4/127.0.0.1/tcp/1/p2p/notapeerid`],
      ['/ip4/127.0.0.1/tcp/1'],
    ].entries()) {
      await writeFile(file, JSON.stringify({ peers }))
      a.kill('SIGHUP')
      expect(JSON.parse(await nthLine(a, n + 2, 'peers:reload-failed'))).toMatchObject({
        error: expect.stringMatching(/invalid config file .*: peers: /),
      })
    }
    expect(a.child.exitCode).toBeNull()
    expect(await hinted()).toEqual([planB.peerId])

    // B out, C in.
    await writeFile(file, JSON.stringify({ peers: [planC.address] }))
    a.kill('SIGHUP')
    expect(JSON.parse(await nthLine(a, 1, 'peers:reloaded'))).toMatchObject({
      added: [planC.address],
      removed: [planB.address],
    })
    await nthLine(a, 1, 'connected to peer relay', planC.address)
    expect(count(a, 'connected to peer relay', planC.address)).toBeGreaterThan(0)
    expect(await hinted()).toEqual([planC.peerId])
    const [linksToB, linksToC] = [planB.address, planC.address].map((address) =>
      count(a, 'connected to peer relay', address),
    )

    // C goes and comes back: A redials it, and in the same rounds would have redialled B, which it hung up on.
    c.kill('SIGKILL')
    await c.exited
    track(await start(planC))
    await nthLine(a, linksToC! + 1, 'connected to peer relay', planC.address)
    expect(count(a, 'connected to peer relay', planB.address)).toBe(linksToB)
    expect(a.child.exitCode).toBeNull()
  }, 240_000)
})
