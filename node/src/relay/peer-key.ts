import { randomUUID } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { KeyFileError } from '../errors.ts'

const PEER_KEY_FILE = 'peer-key'

/**
 * The node's libp2p key in `<dataDir>/peer-key` (protobuf, mode 0600): a relay keeps its
 * PeerId, and so its multiaddrs, across restarts.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyFileError(`cannot read the peer key at ${path}`, {
        cause: err,
        hint: 'check the permissions of --data-dir',
      })
    }
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new KeyFileError(`the peer key at ${path} is damaged`, {
        cause: err,
        hint: 'restore it from a backup, or delete it to start with a new PeerId',
      })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  // Whole or not at all: a relay killed while writing the file in place (a first start stopped at once) left an
  // empty key that every later start refused as damaged. The key is written aside and linked into place, which
  // also fails if another start put its key there first: then that one is the relay's.
  const aside = `${path}.${randomUUID()}.tmp`
  await writeFile(aside, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  try {
    await link(aside, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return loadOrCreatePeerKey(dataDir)
  } finally {
    await rm(aside, { force: true })
  }
  return key
}
