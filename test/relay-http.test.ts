/**
 * The relay's HTTP server (`securechat relay --http`) against a real relay, with a fixture web app
 * in a temporary directory: headers, CSP and nonces, static files, traversal, endpoints, limits.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type AuditLeaf, buildBatchSync, leafHashOf, leafToValue, verifyLeafProof } from '@securechat/sdk/audit'
import type { Address } from '@securechat/sdk/types'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AnchoredProofIndex } from '../node/src/audit/proof-index.ts'
import { RelayHttpServer, type RelayHttpServerInit } from '../node/src/relay/http/server.ts'
import { relayMetrics } from '../node/src/relay/metrics.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { type CliProcess, spawnCli, tempDir } from './helpers/cli.ts'

const SECRET = 'top-secret-outside-the-web-root'
const RPC_URL = 'http://127.0.0.1:8545/v1?project=demo'

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>SecureChat &lt;script&gt;</title>
    <!-- <script src="/assets/commented-out.js"></script> -->
    <link rel="stylesheet" href="/assets/app-abc.css">
    <link rel="modulepreload" href="/assets/chunk-def.js">
    <link rel="manifest" href="/manifest.webmanifest">
    <script type="module" src="/assets/app-abc.js"></script>
    <script>window.note = '<script src="/x.js"></script>'</script>
  </head>
  <body data-x="<script>"><sc-app></sc-app></body>
</html>
`

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Sends the path exactly as written (fetch would normalise `..` away before sending). */
function get(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** The CSP's directives: name → source list. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp.split(';').map((part) => {
      const [name = '', ...values] = part.trim().split(/\s+/)
      return [name, values] as const
    }),
  )
}

function nonceOf(reply: Reply): string {
  const csp = String(reply.headers['content-security-policy'])
  const match = /'nonce-([^']+)'/.exec(csp)
  if (match === null) throw new Error(`no nonce in ${csp}`)
  return match[1]!
}

const SECURITY_HEADERS = {
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'permissions-policy': 'camera=(self), microphone=(self), geolocation=(), payment=(), usb=()',
  'cross-origin-opener-policy': 'same-origin',
  'x-frame-options': 'DENY',
}

function expectSecurityHeaders(reply: Reply): void {
  expect(reply.headers).toMatchObject(SECURITY_HEADERS)
  const csp = String(reply.headers['content-security-policy'])
  expect(csp).toMatch(/^default-src 'self'; script-src 'nonce-[A-Za-z0-9+/]{22}==' 'strict-dynamic';/)
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/)
}

async function writeFixture(root: string, { index = true } = {}): Promise<void> {
  await mkdir(join(root, 'assets'), { recursive: true })
  if (index) await writeFile(join(root, 'index.html'), INDEX_HTML)
  await writeFile(join(root, 'assets', 'app-abc.js'), 'console.log("app")\n')
  await writeFile(join(root, 'assets', 'chunk-def.js'), 'export const x = 1\n')
  await writeFile(join(root, 'assets', 'app-abc.css'), 'body { margin: 0 }\n')
  await writeFile(join(root, 'assets', '.hidden.js'), 'hidden\n')
  await writeFile(join(root, 'assets', 'mod.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))
  await writeFile(join(root, 'manifest.webmanifest'), '{"name":"SecureChat"}\n')
  await writeFile(join(root, 'sw.js'), 'self.addEventListener("fetch", () => {})\n')
  await writeFile(join(root, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n')
  await writeFile(join(root, 'icon.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]))
  await writeFile(join(root, 'data.json'), '{"a":1}\n')
  await writeFile(join(root, '.env'), `${SECRET}\n`)
}

describe('relay HTTP server', () => {
  let dir: string
  let root: string
  let relay: RelayNode
  const servers: RelayHttpServer[] = []

  beforeAll(async () => {
    dir = await tempDir('relay-http-')
    root = join(dir, 'site')
    await writeFixture(root)
    await writeFile(join(dir, 'secret.txt'), `${SECRET}\n`)
    await symlink(join(dir, 'secret.txt'), join(root, 'link.txt'))
    await symlink(dir, join(root, 'assets', 'outside'))
    relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    })
    await relay.start()
  })

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop()
  })

  afterAll(async () => {
    await relay.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function serve(init: Partial<RelayHttpServerInit> = {}): Promise<string> {
    const server = new RelayHttpServer({
      relay,
      port: 0,
      webRoot: root,
      app: { chainId: 31337, rpcUrl: RPC_URL, contracts: { auditLog: `0x${'ab'.repeat(20)}` } },
      // Plenty for one test file; the rate limit has its own test.
      rateLimit: { burst: 10_000 },
      ...init,
    })
    servers.push(server)
    await server.start()
    return server.url
  }

  it('behavior: the CSP has exactly the strict directives, nothing unsafe, and the chain RPC origin', async () => {
    const url = await serve()
    const reply = await get(url, '/')
    const csp = String(reply.headers['content-security-policy'])
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    expect(Object.fromEntries(directives(csp))).toEqual({
      'default-src': ["'self'"],
      'script-src': [`'nonce-${nonceOf(reply)}'`, "'strict-dynamic'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:', 'blob:'],
      'media-src': ["'self'", 'blob:'],
      'font-src': ["'self'"],
      'connect-src': ["'self'", 'ws:', 'wss:', 'http://127.0.0.1:8545'],
      'worker-src': ["'self'"],
      'manifest-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'frame-ancestors': ["'none'"],
      'form-action': ["'none'"],
      'require-trusted-types-for': ["'script'"],
      'trusted-types': ['securechat', 'lit-html'],
    })
    // 128 random bits.
    expect(Buffer.from(nonceOf(reply), 'base64')).toHaveLength(16)
  })

  it('behavior: each page has a fresh nonce, on every script and modulepreload tag and nowhere else', async () => {
    const url = await serve()
    const [first, second] = await Promise.all([get(url, '/'), get(url, '/')])
    expect(nonceOf(first!)).not.toBe(nonceOf(second!))
    for (const reply of [first!, second!]) {
      const nonce = nonceOf(reply)
      expect(reply.status).toBe(200)
      expect(reply.body).toContain(`<script nonce="${nonce}" type="module" src="/assets/app-abc.js"></script>`)
      expect(reply.body).toContain(`<link nonce="${nonce}" rel="modulepreload" href="/assets/chunk-def.js">`)
      expect(reply.body).toContain(`<script nonce="${nonce}">window.note = '<script src="/x.js"></script>'</script>`)
      // Exactly those three: not the commented-out tag, the title, the stylesheet or the attribute.
      expect(reply.body.split(`nonce="${nonce}"`)).toHaveLength(4)
      expect(reply.body).toContain('<!-- <script src="/assets/commented-out.js"></script> -->')
      expect(reply.body).toContain('<link rel="stylesheet" href="/assets/app-abc.css">')
      expect(reply.body).toContain('<body data-x="<script>">')
      expect(reply.headers['cache-control']).toBe('no-cache')
      expect(reply.headers['content-type']).toBe('text/html; charset=utf-8')
    }
  })

  it('behavior: security headers on pages, files, endpoints and errors alike', async () => {
    const url = await serve()
    const replies = await Promise.all([
      get(url, '/'),
      get(url, '/assets/app-abc.js'),
      get(url, '/healthz'),
      get(url, '/config.json'),
      get(url, '/metrics'),
      get(url, '/missing.js'),
      get(url, '/%2e%2e/secret.txt'),
      get(url, '/', { method: 'POST' }),
    ])
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 404, 400, 405])
    for (const reply of replies) expectSecurityHeaders(reply)
  })

  it('behavior: content types and cache lifetimes of static files', async () => {
    const url = await serve()
    const expected: Array<[string, string, string]> = [
      ['/assets/app-abc.js', 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/assets/app-abc.css', 'text/css; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/assets/mod.wasm', 'application/wasm', 'public, max-age=31536000, immutable'],
      ['/manifest.webmanifest', 'application/manifest+json', 'no-cache'],
      ['/sw.js', 'text/javascript; charset=utf-8', 'no-cache'],
      ['/icon.svg', 'image/svg+xml', 'no-cache'],
      ['/icon.png', 'image/png', 'no-cache'],
      ['/data.json', 'application/json', 'no-cache'],
      ['/index.html', 'text/html; charset=utf-8', 'no-cache'],
    ]
    for (const [path, type, cache] of expected) {
      const reply = await get(url, path)
      expect({
        path,
        status: reply.status,
        type: reply.headers['content-type'],
        cache: reply.headers['cache-control'],
      }).toEqual({
        path,
        status: 200,
        type,
        cache,
      })
    }
    const js = await get(url, '/assets/app-abc.js')
    expect(js.body).toBe('console.log("app")\n')
    expect(js.headers['content-length']).toBe(String(js.body.length))
  })

  it('behavior: HEAD answers the headers without a body; a matching ETag answers 304', async () => {
    const url = await serve()
    const head = await get(url, '/assets/app-abc.js', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
    expect(head.headers['content-length']).toBe('19')
    const etag = String(head.headers.etag)
    const again = await get(url, '/sw.js')
    const revalidated = await get(url, '/sw.js', { headers: { 'If-None-Match': String(again.headers.etag) } })
    expect(revalidated.status).toBe(304)
    expect(revalidated.body).toBe('')
    expectSecurityHeaders(revalidated)
    expect(etag).toMatch(/^W\/"/)
    const page = await get(url, '/', { method: 'HEAD' })
    expect(page.status).toBe(200)
    expect(page.body).toBe('')
  })

  it('error: traversal, encoded separators, dotfiles and symlinks never reach a file outside the root', async () => {
    const url = await serve()
    const attempts = [
      '/../secret.txt',
      '/../../../../etc/passwd',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/.%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/..\\secret.txt',
      '/%2fetc%2fpasswd',
      '/secret.txt%00.js',
      '/%zz',
      '/.env',
      '/%2eenv',
      '/assets/.hidden.js',
      '/link.txt',
      '/assets/outside/secret.txt',
    ]
    for (const path of attempts) {
      const reply = await get(url, path)
      expect({ path, status: [400, 404].includes(reply.status) }).toEqual({ path, status: true })
      expect(reply.body).not.toContain(SECRET)
      expect(reply.body).not.toContain('root:')
      expectSecurityHeaders(reply)
    }
    expect((await get(url, '/../secret.txt')).status).toBe(400)
    expect((await get(url, '/..%2fsecret.txt')).status).toBe(400)
    expect((await get(url, '/.env')).status).toBe(404)
  })

  it('behavior: GET and HEAD only; anything else is 405 with Allow', async () => {
    const url = await serve()
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const reply = await get(url, '/', { method })
      expect(reply.status).toBe(405)
      expect(reply.headers.allow).toBe('GET, HEAD')
    }
    expect((await get(url, '/healthz', { method: 'POST' })).status).toBe(405)
  })

  it('behavior: a path without an extension is an app route (index.html); a missing file is 404', async () => {
    const url = await serve()
    for (const path of [
      '/rooms/abc',
      '/dm/0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      '/settings/',
      '/assets',
      '/?invite=x',
    ]) {
      const reply = await get(url, path)
      expect({ path, status: reply.status }).toEqual({ path, status: 200 })
      expect(reply.body).toContain(`<script nonce="${nonceOf(reply)}" type="module"`)
    }
    for (const path of ['/missing.js', '/assets/app-zzz.js', '/favicon.ico']) {
      const reply = await get(url, path)
      expect({ path, status: reply.status }).toEqual({ path, status: 404 })
      expect(reply.headers['cache-control']).toBe('no-store')
    }
  })

  it("behavior: /config.json gives the relay's WebSocket addresses, the chain and the contracts", async () => {
    const auditLog = `0x${'ab'.repeat(20)}`
    const url = await serve()
    const reply = await get(url, '/config.json')
    expect(reply.headers['content-type']).toBe('application/json')
    expect(reply.headers['cache-control']).toBe('no-store')
    const config = JSON.parse(reply.body) as Record<string, unknown>
    const ws = relay.multiaddrs.filter((a) => a.includes('/ws'))
    expect(ws).toHaveLength(1)
    expect(config).toEqual({
      relays: ws,
      chainId: 31337,
      rpcUrl: RPC_URL,
      contracts: { auditLog },
      allowPrivateAddresses: false,
    })
    expect((config.relays as string[])[0]).toMatch(new RegExp(`/ws/p2p/${relay.peerId}$`))

    const lan = await serve({ app: { allowPrivateAddresses: true } })
    expect(JSON.parse((await get(lan, '/config.json')).body)).toEqual({
      relays: ws,
      contracts: {},
      allowPrivateAddresses: true,
    })
    // ENS names need a mainnet endpoint: published, and allowed by the CSP; ICE servers pass through.
    const ens = 'https://mainnet.example:8443/v1'
    const withEns = await serve({
      app: {
        chainId: 31337,
        rpcUrl: RPC_URL,
        ensRpcUrl: ens,
        iceServers: ['stun:stun.example:3478', 'turn:turn.example'],
      },
    })
    const ensReply = await get(withEns, '/config.json')
    expect(JSON.parse(ensReply.body)).toMatchObject({
      ensRpcUrl: ens,
      iceServers: [{ urls: 'stun:stun.example:3478' }, { urls: 'turn:turn.example' }],
    })
    // The relays it peers with follow its own, those a browser can dial (WebSocket, with a PeerId) only.
    const peer = '/ip4/192.0.2.7/tcp/4002/ws/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
    const withPeers = await serve({
      app: {
        relays: [peer, '/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', ws[0]!],
      },
    })
    expect(JSON.parse((await get(withPeers, '/config.json')).body).relays).toEqual([...ws, peer])
    expect(Object.fromEntries(directives(String(ensReply.headers['content-security-policy'])))['connect-src']).toEqual([
      "'self'",
      'ws:',
      'wss:',
      new URL(RPC_URL).origin,
      'https://mainnet.example:8443',
    ])
  })

  it('behavior: /healthz and /metrics report the relay', async () => {
    // What a relay component passes: the node's metrics, the server's own, and a service's.
    const url = await serve({
      metrics: () => [
        ...relayMetrics(relay.stats()),
        ...servers.at(-1)!.metrics(),
        { name: 'securechat_test_total', help: 'A test counter.', type: 'counter', samples: [{ value: 7n }] },
      ],
    })
    const health = await get(url, '/healthz')
    expect(health.status).toBe(200)
    expect(health.headers['cache-control']).toBe('no-store')
    const body = JSON.parse(health.body) as Record<string, unknown>
    expect(body).toEqual({
      status: 'ok',
      peerId: relay.peerId,
      connections: 0,
      rooms: 0,
      uptimeSeconds: expect.any(Number),
    })
    const metrics = await get(url, '/metrics')
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(metrics.body).toContain('# TYPE securechat_relay_rooms gauge\nsecurechat_relay_rooms 0\n')
    expect(metrics.body).toContain('securechat_relay_records_rejected_total 0\n')
    expect(metrics.body).toMatch(/securechat_http_responses_total\{code="200"\} \d+/)
    expect(metrics.body).toContain('securechat_test_total 7\n')
  })

  it('behavior: /audit/proof answers the proof of an anchored leaf hash, 404 for a leaf it lacks, 400 for any other query', async () => {
    const leaf = (i: number): AuditLeaf => ({
      roomId: `0x${'a1'.repeat(32)}`,
      messageId: `0x${i.toString(16).padStart(64, '0')}`,
      sender: `0x${'Ab'.repeat(20)}` as Address,
      timestampMs: 1_700_000_000_000 + i,
      ciphertextHash: `0x${'c3'.repeat(32)}`,
    })
    const leaves = Array.from({ length: 5 }, (_, i) => leaf(i))
    const batch = buildBatchSync(leaves)
    const proofs = new AnchoredProofIndex()
    const info = { root: batch.root, count: batch.count, cid: 'bafy-test', blockNumber: 42, transactionHash: '0x1234' }
    proofs.add(info, batch)
    const url = await serve({ auditProofs: proofs })

    for (const [i, wanted] of leaves.entries()) {
      const reply = await get(url, `/audit/proof?leaf=${leafHashOf(wanted).toUpperCase().replace('0X', '0x')}`)
      expect(reply.status, `leaf ${i}`).toBe(200)
      expect(reply.headers['cache-control']).toBe('no-store')
      expectSecurityHeaders(reply)
      const body = JSON.parse(reply.body) as { root: string; proof: string[]; batch: unknown }
      expect(body.root).toBe(batch.root)
      expect(body.batch).toEqual(info)
      expect(verifyLeafProof({ root: body.root, value: leafToValue(wanted), proof: body.proof })).toBe(true)
    }
    const unknown = await get(url, `/audit/proof?leaf=${leafHashOf(leaf(99))}`)
    expect(unknown.status).toBe(404)
    expect(JSON.parse(unknown.body)).toEqual({ error: expect.any(String) })
    const hash = leafHashOf(leaves[0]!)
    for (const path of [
      '/audit/proof',
      '/audit/proof?',
      '/audit/proof?leaf=',
      `/audit/proof?leaf=${hash.slice(2)}`,
      `/audit/proof?leaf=${hash}0`,
      `/audit/proof?leaf=${hash.slice(0, -1)}g`,
      `/audit/proof?leaf=${hash}&leaf=${hash}`,
      `/audit/proof?other=1&leaf=${hash}`,
      `/audit/proof?leaf=%30x${hash.slice(2)}`,
    ]) {
      const reply = await get(url, path)
      expect({ path, status: reply.status }).toEqual({ path, status: 400 })
      expect(reply.headers['content-type']).toBe('application/json')
    }
    // A relay that does not anchor says so (the app then stops asking it).
    const plain = await serve()
    expect((await get(plain, `/audit/proof?leaf=${hash}`)).status).toBe(501)
  })

  it('behavior: a burst beyond the bucket is answered 429 with Retry-After', async () => {
    // A stopped clock: no token comes back during the test, so the count is exact.
    const url = await serve({ rateLimit: { now: () => 0 } })
    const replies: Reply[] = []
    for (let i = 0; i < 101; i++) replies.push(await get(url, '/healthz'))
    expect(replies.slice(0, 100).every((r) => r.status === 200)).toBe(true)
    const limited = replies[100]!
    expect(limited.status).toBe(429)
    expect(limited.headers['retry-after']).toBe('1')
    expectSecurityHeaders(limited)
  })

  it('behavior: behind a trusted proxy, clients are told apart by X-Forwarded-For', async () => {
    const url = await serve({ rateLimit: { now: () => 0, burst: 1 }, trustedProxies: ['127.0.0.1', '192.0.2.10'] })
    const from = (forwarded: string): Promise<Reply> =>
      get(url, '/healthz', { headers: { 'X-Forwarded-For': forwarded } })
    // The client wrote 6.6.6.6 itself; the proxy appended the address it saw.
    expect((await from('6.6.6.6, 203.0.113.1')).status).toBe(200)
    expect((await from('6.6.6.6, 203.0.113.1')).status).toBe(429)
    expect((await from('6.6.6.6, 203.0.113.2')).status).toBe(200)
    // Two trusted proxies in a row: the client is the address the outer one saw.
    expect((await from('203.0.113.3, 192.0.2.10')).status).toBe(200)
    expect((await from('6.6.6.6, 203.0.113.3, 192.0.2.10')).status).toBe(429)
  })

  it('security: X-Forwarded-For from an address that is not a trusted proxy is ignored', async () => {
    // Every request here comes from 127.0.0.1, which is not the proxy this server trusts: one client, one bucket.
    const url = await serve({ rateLimit: { now: () => 0, burst: 1 }, trustedProxies: ['192.0.2.10'] })
    expect((await get(url, '/healthz', { headers: { 'X-Forwarded-For': '203.0.113.3' } })).status).toBe(200)
    expect((await get(url, '/healthz', { headers: { 'X-Forwarded-For': '203.0.113.4' } })).status).toBe(429)
  })

  it('error: without index.html, pages say how to build the app (503) and the endpoints still work', async () => {
    const empty = join(dir, 'empty')
    await writeFixture(empty, { index: false })
    const url = await serve({ webRoot: empty })
    const page = await get(url, '/', { headers: { Accept: 'text/html,application/xhtml+xml' } })
    expect(page.status).toBe(503)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('npm run build -w @securechat/web')
    expectSecurityHeaders(page)
    const json = await get(url, '/rooms/x')
    expect(json.status).toBe(503)
    expect(JSON.parse(json.body)).toEqual({ error: 'the web app is not built: run `npm run build -w @securechat/web`' })
    expect((await get(url, '/healthz')).status).toBe(200)
    expect((await get(url, '/assets/app-abc.js')).status).toBe(200)

    const nowhere = await serve({ webRoot: join(dir, 'does-not-exist') })
    expect((await get(nowhere, '/')).status).toBe(503)
  })

  it('behavior: stop closes the server and is idempotent', async () => {
    const server = new RelayHttpServer({ relay, port: 0, webRoot: root })
    await server.start()
    const url = server.url
    expect((await get(url, '/healthz')).status).toBe(200)
    await Promise.all([server.stop(), server.stop()])
    await server.stop()
    await expect(get(url, '/healthz')).rejects.toThrow(/ECONNREFUSED/)
  })

  it('error: a port in use is a ConfigError that names it', async () => {
    const first = new RelayHttpServer({ relay, port: 0, webRoot: root })
    servers.push(first)
    await first.start()
    const port = Number(new URL(first.url).port)
    const second = new RelayHttpServer({ relay, port, webRoot: root })
    await expect(second.start()).rejects.toMatchObject({ name: 'ConfigError', details: { port, code: 'EADDRINUSE' } })
  })
})

describe('securechat relay --http', () => {
  let cli: CliProcess | undefined
  afterEach(async () => {
    cli?.kill('SIGKILL')
    await cli?.exited
    cli = undefined
  })

  it('behavior: the first line names the app URL, which serves the app and /config.json; SIGTERM closes it', async () => {
    const dir = await tempDir('relay-http-cli-')
    await writeFixture(join(dir, 'site'))
    cli = spawnCli([
      'relay',
      '--json',
      '--data-dir',
      join(dir, 'data'),
      '--listen',
      '/ip4/127.0.0.1/tcp/0/ws',
      '--http',
      '0',
      '--web-root',
      join(dir, 'site'),
      '--web-allow-private',
      '--chain-id',
      '31337',
    ])
    const started = JSON.parse(await cli.waitForLine((line) => line.includes('relay:started'))) as {
      web: string
      peerId: string
      multiaddrs: string[]
    }
    expect(cli.lines[0]).toContain('relay:started')
    expect(started.web).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await get(started.web, '/')
    expect(page.body).toContain(`<script nonce="${nonceOf(page)}" type="module"`)
    expect(JSON.parse((await get(started.web, '/config.json')).body)).toEqual({
      relays: started.multiaddrs,
      chainId: 31337,
      contracts: {},
      allowPrivateAddresses: true,
    })
    cli.kill('SIGTERM')
    expect(await cli.exited).toBe(0)
    await expect(get(started.web, '/healthz')).rejects.toThrow(/ECONNREFUSED/)
    await rm(dir, { recursive: true, force: true })
  })
})
