/**
 * vitest helper: a certificate authority of the test's own and server certificates it issues for `127.0.0.1` and
 * `localhost`, made with the `openssl` CLI (ECDSA P-256, valid two days). Nothing here is trusted anywhere but where a
 * test says so: Node through `ca`, Chromium through `--ignore-certificate-errors-spki-list` with the CA's key hash.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestCa {
  /** The CA certificate, PEM. */
  pem: string
  /** SHA-256 of the CA's SubjectPublicKeyInfo, base64: what Chromium's `--ignore-certificate-errors-spki-list` takes. */
  spkiSha256: string
  certFile: string
  keyFile: string
  dir: string
}

export interface ServerCertificate {
  /** The chain as a server serves it (leaf, then the CA), PEM: what `--tls-cert` takes. */
  certFile: string
  /** The leaf's private key, PEM (PKCS #8, no passphrase): what `--tls-key` takes. */
  keyFile: string
  /** The leaf's SHA-256 fingerprint as Node prints it (`AA:BB:…`): tells one certificate from another. */
  fingerprint256: string
}

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A new CA in `dir`. */
export async function createTestCa(dir: string): Promise<TestCa> {
  const certFile = join(dir, 'ca.pem')
  const keyFile = join(dir, 'ca-key.pem')
  await run('openssl', [
    'req',
    '-x509',
    ...CURVE,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=SecureChat test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  const pem = await readFile(certFile, 'utf8')
  return { pem, spkiSha256: spkiSha256(pem), certFile, keyFile, dir }
}

/** A server certificate for `127.0.0.1` and `localhost` issued by `ca`, written as `<name>.pem` and `<name>-key.pem`. */
export async function issueServerCertificate(ca: TestCa, name: string): Promise<ServerCertificate> {
  const keyFile = join(ca.dir, `${name}-key.pem`)
  const csrFile = join(ca.dir, `${name}.csr`)
  const leafFile = join(ca.dir, `${name}-leaf.pem`)
  const extFile = join(ca.dir, `${name}.ext`)
  await run('openssl', ['req', '-new', ...CURVE, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`])
  await writeFile(
    extFile,
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
    ].join('\n'),
  )
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    extFile,
    '-out',
    leafFile,
  ])
  const leaf = await readFile(leafFile, 'utf8')
  const certFile = join(ca.dir, `${name}.pem`)
  await writeFile(certFile, `${leaf}${ca.pem}`)
  return { certFile, keyFile, fingerprint256: new X509Certificate(leaf).fingerprint256 }
}

function spkiSha256(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}
