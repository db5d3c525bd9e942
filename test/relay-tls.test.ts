/**
 * TLS on the relay itself (`securechat relay --tls-cert --tls-key`), as an operator runs it: a `securechat relay`
 * process serving `wss://` on a `/tls/ws` listener and HTTPS on `--http` with a certificate from a CA this test makes,
 * reloading its files on SIGHUP, and refusing pairs it cannot use — at start by not starting, on SIGHUP by keeping
 * the certificate it serves.
 */
import { copyFile, rename, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { connect, getCACertificates, setDefaultCACertificates } from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateCovers, readTlsCertificate } from '../node/src/relay/tls.ts'
import { type RelayProcess, runCli, startRelayProcess, tempDir } from './helpers/cli.ts'
import { createTestCa, issueServerCertificate, type ServerCertificate, type TestCa } from './helpers/test-ca.ts'

let dir: string
let ca: TestCa
let certA: ServerCertificate
let certB: ServerCertificate

beforeAll(async () => {
  dir = await tempDir('tls-')
  ca = await createTestCa(dir)
  certA = await issueServerCertificate(ca, 'relay-a')
  certB = await issueServerCertificate(ca, 'relay-b')
}, 30_000)

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The fingerprint of the leaf a new TLS connection to `port` is served, checked against the test CA. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.pem, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '')
      socket.end()
    })
    socket.once('error', reject)
  })
}

/** GET over HTTPS, trusting the test CA only. */
function httpsGet(url: string): Promise<{ status: number; body: string; fingerprint256: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: ca.pem, agent: false }, (res) => {
      const fingerprint256 = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? ''
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint256 }))
    })
    req.once('error', reject)
    req.end()
  })
}

function portOf(address: string): number {
  return Number(/\/tcp\/(\d+)/.exec(address)?.[1])
}

/** Puts `from`'s files where the relay reads its pair, each replaced in one step (as certbot's renewal does). */
async function install(from: { certFile: string; keyFile: string }, to: { certFile: string; keyFile: string }) {
  for (const [source, target] of [
    [from.certFile, to.certFile],
    [from.keyFile, to.keyFile],
  ] as const) {
    await copyFile(source, `${target}.new`)
    await rename(`${target}.new`, target)
  }
}

describe('relay TLS: wss:// and HTTPS from the relay itself, reloaded on SIGHUP', () => {
  let relay: RelayProcess
  /** Where the relay reads its pair: the files a renewal replaces. */
  const live = { certFile: '', keyFile: '' }
  let wssPort: number
  let client: SecureChatLibp2p | undefined

  afterAll(async () => {
    await client?.stop()
    relay?.kill('SIGKILL')
    await relay?.exited
  })

  it('behavior: the relay serves wss:// and HTTPS with its certificate, and /config.json names only the wss:// address', async () => {
    live.certFile = join(dir, 'live.pem')
    live.keyFile = join(dir, 'live-key.pem')
    await install(certA, live)
    relay = await startRelayProcess({
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/tcp/0/tls/ws'],
      args: ['--tls-cert', live.certFile, '--tls-key', live.keyFile, '--http', '0', '--store', 'none'],
    })
    const wss = relay.multiaddrs.find((address) => address.includes('/tls/ws'))
    expect(wss).toBeDefined()
    wssPort = portOf(wss!)
    expect(relay.web).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
    expect(await servedFingerprint(wssPort)).toBe(certA.fingerprint256)

    const config = await httpsGet(new URL('/config.json', relay.web).href)
    expect(config.status).toBe(200)
    expect(config.fingerprint256).toBe(certA.fingerprint256)
    // A page served over HTTPS may not dial ws://: only the wss:// address is named.
    expect((JSON.parse(config.body) as { relays: string[] }).relays).toEqual([wss])
    expect((await httpsGet(new URL('/healthz', relay.web).href)).status).toBe(200)
    const metrics = await httpsGet(new URL('/metrics', relay.web).href)
    expect(metrics.body).toMatch(/^securechat_tls_certificate_expiry_timestamp_seconds \d+$/m)
    // The certificate names 127.0.0.1: nothing to warn about.
    expect(relay.lines.find((line) => line.includes('tls:misnamed'))).toBeUndefined()
  })

  it('behavior: a libp2p node dials the relay over wss:// (Noise inside TLS) and pings it', async () => {
    // This process trusts the test CA from here on, as a machine would trust a public one.
    setDefaultCACertificates([...getCACertificates('default'), ca.pem])
    client = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519'), transports: [webSockets()] })
    const connection = await client.dial(multiaddr(`/ip4/127.0.0.1/tcp/${wssPort}/tls/ws/p2p/${relay.peerId}`))
    expect(connection.status).toBe('open')
    expect(await (client.services.ping as Ping).ping(connection.remotePeer)).toBeGreaterThanOrEqual(0)
  })

  it('error: SIGHUP with a key that does not belong to the certificate, or a file gone, keeps the certificate in use and logs why', async () => {
    await install({ certFile: certB.certFile, keyFile: certA.keyFile }, live)
    relay.kill('SIGHUP')
    const mismatch = JSON.parse(await relay.waitForLine((line) => line.includes('tls:reload-failed'))) as {
      error: string
      hint: string
      fingerprint256: string
    }
    expect(mismatch.error).toBe(`the key in ${live.keyFile} does not belong to the certificate in ${live.certFile}`)
    expect(mismatch.hint).toContain('--tls-key')
    expect(mismatch.fingerprint256).toBe(certA.fingerprint256)
    expect(await servedFingerprint(wssPort)).toBe(certA.fingerprint256)

    await rm(live.certFile)
    relay.kill('SIGHUP')
    const gone = JSON.parse(
      await relay.waitForLine((line) => line.includes('tls:reload-failed') && line.includes('ENOENT')),
    ) as { error: string; hint: string }
    expect(gone.error).toBe(`cannot read the TLS certificate file ${live.certFile} (ENOENT)`)
    expect(gone.hint).toContain('--tls-cert')
    expect(await servedFingerprint(wssPort)).toBe(certA.fingerprint256)
    expect((await httpsGet(new URL('/healthz', relay.web).href)).fingerprint256).toBe(certA.fingerprint256)
    // The relay still runs and still counts.
    const metrics = await httpsGet(new URL('/metrics', relay.web).href)
    expect(metrics.body).toContain('securechat_tls_reloads_total{result="failed"} 2')
  })

  it('behavior: SIGHUP after a renewal: new connections get the new certificate, an open wss:// connection stays up', async () => {
    const before = client!.getConnections(peerIdFromString(relay.peerId))
    expect(before).toHaveLength(1)
    await install(certB, live)
    relay.kill('SIGHUP')
    const reloaded = JSON.parse(await relay.waitForLine((line) => line.includes('tls:reloaded'))) as {
      fingerprint256: string
    }
    expect(reloaded.fingerprint256).toBe(certB.fingerprint256)
    expect(await servedFingerprint(wssPort)).toBe(certB.fingerprint256)
    expect((await httpsGet(new URL('/healthz', relay.web).href)).fingerprint256).toBe(certB.fingerprint256)
    // The connection made with certificate A goes on: TLS does not swap the certificate of a live session.
    const [open] = before
    expect(open!.status).toBe('open')
    expect(await (client!.services.ping as Ping).ping(open!.remotePeer)).toBeGreaterThanOrEqual(0)
    expect(client!.getConnections().map((c) => c.id)).toContain(open!.id)
    const metrics = await httpsGet(new URL('/metrics', relay.web).href)
    expect(metrics.body).toContain('securechat_tls_reloads_total{result="ok"} 1')
  })
})

describe('relay TLS: which hosts a certificate serves', () => {
  it('behavior: the names in the certificate decide, as a browser checks them', async () => {
    const { certificate } = await readTlsCertificate(certA)
    expect(certificateCovers(certificate, '127.0.0.1')).toBe(true)
    expect(certificateCovers(certificate, 'localhost')).toBe(true)
    // A relay listening on 0.0.0.0 has its interfaces' addresses; a browser refuses those unless named.
    expect(certificateCovers(certificate, '10.0.0.1')).toBe(false)
    expect(certificateCovers(certificate, 'relay.example')).toBe(false)
  })
})

describe('relay TLS: a pair that cannot be used stops the start with what to do', () => {
  const start = (cert: string, key: string) =>
    runCli([
      'relay',
      '--data-dir',
      join(dir, 'refused'),
      '--store',
      'none',
      '--listen',
      '/ip4/127.0.0.1/tcp/0/tls/ws',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ])

  it('error: a key that does not belong to the certificate', async () => {
    const { code, stderr } = await start(certA.certFile, certB.keyFile)
    expect(code).toBe(1)
    expect(stderr).toContain(
      `error: TlsError: the key in ${certB.keyFile} does not belong to the certificate in ${certA.certFile}`,
    )
    expect(stderr).toContain('hint: pass the key the certificate was issued for with --tls-key')
  })

  it('error: a certificate file that cannot be read, or holds no certificate', async () => {
    const missing = await start(join(dir, 'nowhere.pem'), certA.keyFile)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(
      `error: TlsError: cannot read the TLS certificate file ${join(dir, 'nowhere.pem')} (ENOENT)`,
    )
    expect(missing.stderr).toContain('hint: check --tls-cert (SECURECHAT_TLS_CERT)')
    // A directory where the file should be: unreadable even for root.
    const unreadable = await start(dir, certA.keyFile)
    expect(unreadable.stderr).toContain(`cannot read the TLS certificate file ${dir} (EISDIR)`)
    const notPem = await start(certA.keyFile, certA.keyFile)
    expect(notPem.code).toBe(1)
    expect(notPem.stderr).toContain(`error: TlsError: no PEM certificate in ${certA.keyFile}`)
  })

  it('error: a /tls/ws listener without a certificate', async () => {
    const { code, stderr } = await runCli([
      'relay',
      '--data-dir',
      join(dir, 'refused'),
      '--store',
      'none',
      '--listen',
      '/ip4/127.0.0.1/tcp/0/tls/ws',
    ])
    expect(code).toBe(1)
    expect(stderr).toContain('error: ConfigError: listening on /ip4/127.0.0.1/tcp/0/tls/ws needs a TLS certificate')
    expect(stderr).toContain('hint: pass --tls-cert')
  })
})
