/**
 * Sharing a file in a room or a DM conversation, as a person means it: encrypted into blocks on this device, kept by
 * the relays this device is connected to (so it stays available once this device goes offline), then announced by a
 * message that carries its manifest. In that order: a message never names a file nobody can serve yet.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { MAX_TEXT_BYTES } from '../constants.ts'
import { ciphertextSize } from '../crypto/file-stream.ts'
import type { Conversation } from '../dm/conversation.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { createFileSalt } from '../files/commitment.ts'
import { FILE_PIN_PROTOCOL, MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE } from '../files/constants.ts'
import { FileNotKeptError } from '../files/errors.ts'
import { requestPin } from '../files/pin-request.ts'
import { type FileTransferProgress, ProgressMeter } from '../files/progress.ts'
import { fileThumbnailSchema, MAX_THUMBNAIL_DATA_CHARS } from '../files/thumbnail.ts'
import { firstIssue } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import { Room } from '../rooms/room.ts'
import type { AbortOptions, DmSendResult, FileManifest, FileThumbnail, RoomSendResult } from '../types.ts'
import type { ClientFiles } from './client-files.ts'

/**
 * Where a share is, with bytes, speed and time left: encrypting into blocks here (of `size` when given), then the
 * relays fetching them (ciphertext bytes, summed over every relay asked).
 */
export type ShareProgress = { stage: 'encrypting' | 'relays' } & FileTransferProgress

export interface ShareFileOptions extends AbortOptions {
  /** The message's text, shown with the file; empty by default. */
  caption?: string
  /** A reply in this thread. */
  parentId?: string
  /** The file's size when known: the encrypting stage then says time left. */
  size?: number
  /**
   * Fail with `FileNotKeptError` and send nothing when no relay keeps the file: for a device that goes offline right
   * after (a terminal command), whose message would name a file nobody serves. Otherwise the message goes out and
   * the file is available while this device is online.
   */
  requireKept?: boolean
  /**
   * A small picture of the file (`makeThumbnail` in `@securechat/sdk/files` makes and checks one), sent in the
   * manifest so receivers show it before, or without, fetching the file. Checked before anything is encrypted: one
   * out of bounds is an `InvalidInputError` and nothing is shared. Left out (and logged) when the caption, as JSON,
   * takes more than its `MAX_TEXT_BYTES`: the message must fit in a record, and the file matters more.
   */
  thumbnail?: FileThumbnail
  onProgress?: (progress: ShareProgress) => void
}

export type ShareFileResult = (RoomSendResult | DmSendResult) & {
  file: FileManifest
  /** Relays that keep the file (PeerIds); none: it is available only while this device is online. */
  keptBy: string[]
  /** Relays that would not keep it, and why (their refusal's reason or error). */
  refusedBy: Array<{ relay: string; reason: string }>
}

export interface ShareFileDeps {
  libp2p: Libp2p
  files: ClientFiles
  /** The pair topic a relay keeps a DM's file under (`DirectMessages.pairTopic`). */
  dmTopic: (peer: string) => string | undefined
  log: Logger
}

export async function shareFile(
  deps: ShareFileDeps,
  target: Room | Conversation,
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  meta: { name: string; type: string },
  options: ShareFileOptions = {},
): Promise<ShareFileResult> {
  const { onProgress, signal } = options
  let thumbnail = options.thumbnail === undefined ? undefined : checkThumbnail(options.thumbnail)
  if (thumbnail !== undefined && !fitsWithCaption(options.caption ?? '', thumbnail)) {
    // Rather the file without its picture than no file: the caption's JSON escapes took the thumbnail's room.
    deps.log.info('the caption leaves no room for the thumbnail in the message: the file is shared without it')
    thumbnail = undefined
  }
  const added = await deps.files.add(source, meta, {
    ...(signal === undefined ? {} : { signal }),
    ...(options.size === undefined ? {} : { size: options.size }),
    ...(onProgress === undefined ? {} : { onProgress: (p) => onProgress({ stage: 'encrypting', ...p }) }),
  })
  const withThumbnail: FileManifest = thumbnail === undefined ? added : { ...added, thumbnail }
  // In a room the record commits to the file under a salt the manifest carries (`files/commitment.ts`): drawn here, so
  // the result's manifest is the one sent. DM records are not anchored, and commit to nothing.
  const file: FileManifest = target instanceof Room ? { ...withThumbnail, salt: createFileSalt() } : withThumbnail
  const topic = target instanceof Room ? target.topic : deps.dmTopic(target.peer)
  const { keptBy, refusedBy } =
    topic === undefined ? { keptBy: [], refusedBy: [] } : await keepAtRelays(deps, topic, file, options)
  if (keptBy.length === 0 && options.requireKept === true) {
    throw new FileNotKeptError(
      refusedBy.length === 0
        ? 'no connected relay keeps files: the file was not shared'
        : `no relay would keep the file (${refusedBy.map((r) => r.reason).join(', ')}): it was not shared`,
      {
        details: { refusedBy },
        hint: 'Connect to a relay that keeps files (a `securechat relay` does by default), or share from a device that stays online.',
      },
    )
  }
  if (keptBy.length === 0) {
    deps.log.info('no relay keeps the shared file: it is available while this device is online', {
      cid: file.cid,
      refusedBy,
    })
  }
  const sendOptions = {
    file,
    ...(options.parentId === undefined ? {} : { parentId: options.parentId }),
    ...(signal === undefined ? {} : { signal }),
  }
  const sent = await target.send(options.caption ?? '', sendOptions)
  return { ...sent, file, keptBy, refusedBy }
}

/**
 * Whether the caption and the thumbnail together stay within what `MAX_THUMBNAIL_BYTES` budgets for them (its
 * comment): a caption of up to `MAX_TEXT_BYTES` that JSON writes as it is, beside the largest thumbnail. A caption
 * full of characters JSON escapes (`"`, `\`, controls) takes up to six bytes a character and can use the room a
 * thumbnail would have had; the message must still fit in a record.
 */
function fitsWithCaption(caption: string, thumbnail: FileThumbnail): boolean {
  const captionBytes = utf8.encode(JSON.stringify(caption)).byteLength - 2
  return captionBytes + thumbnail.data.length <= MAX_TEXT_BYTES + MAX_THUMBNAIL_DATA_CHARS
}

/** The thumbnail as a receiver would check it, or why not before a byte is encrypted. */
function checkThumbnail(thumbnail: FileThumbnail): FileThumbnail {
  const checked = fileThumbnailSchema.safeParse(thumbnail)
  if (checked.success) return checked.data
  throw new InvalidInputError(`the thumbnail would be refused: ${firstIssue(checked.error, 'thumbnail')}`, {
    details: { type: thumbnail.type, width: thumbnail.width, height: thumbnail.height },
    hint: `a PNG, JPEG or WebP of at most ${MAX_THUMBNAIL_BYTES} bytes and ${MAX_THUMBNAIL_SIDE} pixels a side (makeThumbnail checks one)`,
  })
}

/**
 * Asks every connected relay that keeps files to keep this one; progress is the sum over them. (A relay that has not
 * checked this device's presence yet holds the request a moment rather than refuse it: a device may share as it joins.)
 */
async function keepAtRelays(
  deps: ShareFileDeps,
  topic: string,
  file: FileManifest,
  options: ShareFileOptions,
): Promise<{ keptBy: string[]; refusedBy: Array<{ relay: string; reason: string }> }> {
  const relays = await pinningPeers(deps.libp2p)
  const bytes = ciphertextSize(file.size)
  const onProgress = options.onProgress
  const meter = new ProgressMeter({
    totalBytes: bytes * relays.length,
    ...(onProgress === undefined ? {} : { listener: (progress) => onProgress({ stage: 'relays', ...progress }) }),
  })
  const pinned = new Map<string, number>()
  /** Relay `relay` holds `count` bytes: the meter moves by what it gained. */
  const held = (relay: PeerId, count: number): void => {
    const before = pinned.get(relay.toString()) ?? 0
    if (count <= before) return
    pinned.set(relay.toString(), count)
    meter.add(count - before)
  }
  const keptBy: string[] = []
  const refusedBy: Array<{ relay: string; reason: string }> = []
  await Promise.all(
    relays.map(async (relay) => {
      try {
        await requestPin(
          deps.libp2p,
          relay,
          { topic, cid: file.cid, bytes },
          {
            ...(options.signal === undefined ? {} : { signal: options.signal }),
            onProgress: ({ pinned }) => held(relay, pinned),
          },
        )
        held(relay, bytes)
        keptBy.push(relay.toString())
      } catch (err) {
        options.signal?.throwIfAborted()
        const reason = (err as { reason?: unknown }).reason
        refusedBy.push({ relay: relay.toString(), reason: typeof reason === 'string' ? reason : String(err) })
      }
    }),
  )
  return { keptBy, refusedBy }
}

/** Connected peers that said (identify) they keep files. */
async function pinningPeers(libp2p: Libp2p) {
  const peers = [...new Map(libp2p.getConnections().map((c) => [c.remotePeer.toString(), c.remotePeer])).values()]
  const speaks = await Promise.all(
    peers.map(async (peer) => {
      try {
        return (await libp2p.peerStore.get(peer)).protocols.includes(FILE_PIN_PROTOCOL)
      } catch {
        return false
      }
    }),
  )
  return peers.filter((_, i) => speaks[i])
}
