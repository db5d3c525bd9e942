/**
 * `securechat send-file` and `get-file` (issue 16): a file shared in a room from a terminal and saved from one, with
 * progress on stderr. Blocks live on disk — under `--data-dir` (`files/`), or in a temporary folder removed at exit —
 * never in memory: a file of gigabytes passes through a few megabytes.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, sep } from 'node:path'
import { Writable } from 'node:stream'
import type { ClientFilesInit, ShareProgress } from '@securechat/sdk/client'
import { FileDecryptionError } from '@securechat/sdk/crypto'
import { FileIntegrityError, type FileTransferProgress } from '@securechat/sdk/files'
import type { UndecryptableMessage } from '@securechat/sdk/types'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { formatBytes, printable } from './cli-format.ts'
import { type ClientFlags, catchUpFromFlags, fileToJson, joinFromFlags } from './room-client.ts'

/** Progress lines at most this often (and the last one always). */
const PROGRESS_EVERY_MS = 1_000

/** Where this device keeps files' blocks: its data dir, or a folder of its own that `close` removes. */
async function filesStore(dataDir: string | undefined): Promise<{ init: ClientFilesInit; close: () => Promise<void> }> {
  const dir = dataDir === undefined ? await mkdtemp(join(tmpdir(), 'securechat-files-')) : join(dataDir, 'files')
  await mkdir(dir, { recursive: true })
  const blockstore = new FsBlockstore(join(dir, 'blocks'))
  const datastore = new FsDatastore(join(dir, 'datastore'))
  await blockstore.open()
  await datastore.open()
  return {
    init: { blockstore, datastore },
    close: async () => {
      await blockstore.close()
      await datastore.close()
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A progress printer for stderr: one line a second, and the last. */
export function progressLine(
  label: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): (progress: FileTransferProgress, done?: boolean) => void {
  let lastMs = 0
  let latest: FileTransferProgress | undefined
  let trailing: ReturnType<typeof setTimeout> | undefined
  const print = (progress: FileTransferProgress, done: boolean): void => {
    lastMs = Date.now()
    const of = progress.totalBytes === undefined ? '' : ` of ${formatBytes(progress.totalBytes)}`
    const speed = progress.bytesPerSecond > 0 ? `, ${formatBytes(progress.bytesPerSecond)}/s` : ''
    const left = progress.secondsLeft === undefined || done ? '' : `, ${Math.ceil(progress.secondsLeft)} s left`
    write(`${label}: ${formatBytes(progress.bytes)}${of}${speed}${left}${done ? ' — done' : ''}\n`)
  }
  return (progress, done = false) => {
    const sinceMs = Date.now() - lastMs
    if (!done && sinceMs < PROGRESS_EVERY_MS) {
      // Printed when the interval ends even if nothing follows: a transfer that stalls shows where it stopped.
      latest = progress
      trailing ??= setTimeout(() => {
        trailing = undefined
        if (latest !== undefined) print(latest, false)
        latest = undefined
      }, PROGRESS_EVERY_MS - sinceMs)
      trailing.unref?.()
      return
    }
    clearTimeout(trailing)
    trailing = undefined
    latest = undefined
    print(progress, done)
  }
}

export interface SendFileFlags extends ClientFlags {
  caption?: string
  type?: string
}

/**
 * Shares the file at `path` in the room: encrypted into blocks here, kept by the relays that keep files, then
 * announced. Prints `{ id, file, keptBy, members }`. When no relay keeps it, it fails and sends nothing: the blocks
 * leave with this process, and a message would name a file nobody serves.
 */
export async function sendFile(flags: SendFileFlags, path: string): Promise<void> {
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  )
  if (size === undefined) throw new ConfigError(`no file to send at ${path}`, { hint: 'give the path of a file' })
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const store = await filesStore(flags.dataDir)
  try {
    const { client, room, close } = await joinFromFlags(flags, factory, { files: store.init })
    try {
      const lines = { encrypting: progressLine('encrypting'), relays: progressLine('relays keeping it') }
      const onProgress = (progress: ShareProgress): void => {
        lines[progress.stage](progress, progress.bytes === progress.totalBytes)
      }
      const shared = await client.shareFile(
        room,
        createReadStream(path, { highWaterMark: 1024 * 1024 }),
        { name: basename(path), type: flags.type ?? 'application/octet-stream' },
        // This process leaves when it is done, and its blocks with it: a message naming a file nobody keeps is not sent.
        { ...(flags.caption === undefined ? {} : { caption: flags.caption }), size, onProgress, requireKept: true },
      )
      for (const { relay, reason } of shared.refusedBy) {
        process.stderr.write(`relay ${relay} did not keep it: ${reason}\n`)
      }
      const self = client.peerId.toString()
      const members = room.members().filter((member) => member.peerId !== self).length
      process.stdout.write(
        `${JSON.stringify({ id: shared.id, file: fileToJson(shared.file), keptBy: shared.keptBy, members })}\n`,
      )
    } finally {
      await close()
    }
  } finally {
    await store.close()
  }
}

export interface GetFileFlags extends ClientFlags {
  out?: string
  /** Replace a file already at the path saved to. */
  force?: boolean
}

/**
 * Where `get-file` saves file `name`: `out` as given, or under the file's own name in the folder `out` names (an
 * existing folder, or a path ending in `/`), or here. Checked before a byte is fetched: the folder must exist, and a
 * file already there is kept unless `force` — a download never quietly replaces what someone had.
 */
export async function savePath(out: string | undefined, name: string, force: boolean): Promise<string> {
  const given = out === undefined ? undefined : await stat(out).catch(() => undefined)
  const path =
    out === undefined ? name : out.endsWith('/') || out.endsWith(sep) || given?.isDirectory() ? join(out, name) : out
  const folder = dirname(path)
  if ((await stat(folder).catch(() => undefined))?.isDirectory() !== true) {
    throw new ConfigError(`cannot save to ${printable(path)}: there is no folder ${printable(folder)}`, {
      hint: 'create the folder first, or give --out a path in a folder that exists',
    })
  }
  const existing = await stat(path).catch(() => undefined)
  if (existing?.isDirectory() === true) {
    throw new ConfigError(`cannot save to ${printable(path)}: it is a folder`, { hint: 'give --out another path' })
  }
  if (existing !== undefined && !force) {
    throw new ConfigError(`${printable(path)} exists already; it was left as it is`, {
      hint: 'pass --force to replace it, or give --out another path',
    })
  }
  return path
}

/**
 * Saves the file message `id` shares: fetched from the relays that keep it (or its sender), checked, written to
 * `<out>.part` and renamed to `out` only once whole and checked. A `.part` left by an interrupted run is resumed.
 */
export async function getFile(flags: GetFileFlags, id: string): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const store = await filesStore(flags.dataDir)
  try {
    const joined = await joinFromFlags(flags, factory, { catchUp: 'later', files: store.init })
    const { client, room, close } = joined
    try {
      // The message is in this device's vault (--data-dir), or in what the relays kept.
      let unreadable: string | undefined
      if (room.message(id) === undefined) {
        const onUnreadable = ({ detail }: CustomEvent<UndecryptableMessage>): void => {
          if (detail.id === id) unreadable = detail.reason
        }
        room.addEventListener('message:undecryptable', onUnreadable)
        await catchUpFromFlags(joined).finally(() => room.removeEventListener('message:undecryptable', onUnreadable))
      }
      const file = room.message(id)?.file
      if (file === undefined) {
        if (unreadable !== undefined) {
          throw new ConfigError(`the relays keep message ${id}, but this device cannot read it: ${unreadable}`, {
            hint: 'get it with a device that was in the room when it was sent (its --data-dir), or ask the sender to share it again',
          })
        }
        throw new ConfigError(
          room.message(id) === undefined
            ? `no message ${id} in this room (not kept here, and not in what the relays keep)`
            : `message ${id} shares no file (or it was deleted)`,
          { hint: '`securechat listen --json` prints each message with its id and the file it shares' },
        )
      }
      const out = await savePath(flags.out, file.name, flags.force === true)
      const part = `${out}.part`
      const offset = await stat(part).then(
        (s) => Math.min(s.size, file.size),
        () => 0,
      )
      if (offset > 0) process.stderr.write(`resuming ${printable(out)} from ${formatBytes(offset)}\n`)
      const downloading = progressLine('downloading')
      let last: FileTransferProgress = { bytes: offset, totalBytes: file.size, bytesPerSecond: 0 }
      const stream = await client.files.get(file, {
        offset,
        ...(offset > 0 ? { prefix: createReadStream(part, { end: offset - 1 }) } : {}),
        onProgress: (progress) => {
          last = progress
          downloading(progress)
        },
      })
      try {
        await stream.pipeTo(Writable.toWeb(createWriteStream(part, { flags: offset > 0 ? 'r+' : 'w', start: offset })))
      } catch (err) {
        // What failed its check is no start to resume from; what stopped half-way (a relay gone) is.
        if (err instanceof FileIntegrityError || err instanceof FileDecryptionError) await rm(part, { force: true })
        throw err
      }
      downloading(last, true)
      await rename(part, out)
      // Saved where it was asked: its blocks need not stay here too.
      await client.files.collectGarbage()
      process.stdout.write(`${JSON.stringify({ id, path: out, bytes: file.size, sha256: file.sha256 })}\n`)
    } finally {
      await close()
    }
  } finally {
    await store.close()
  }
}
