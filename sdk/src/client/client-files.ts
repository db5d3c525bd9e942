/**
 * A device's files (`client.files`): the Helia node they move through runs on the client's own libp2p node, started
 * with it, before it dials a relay — so the relays learn from the connection's identify that it serves files' blocks
 * (a node that took up the protocol later would have to push its protocols, and libp2p's identify push upset gossip
 * and gap repair in tests). It holds nothing until a file is shared or fetched. Sharing is two steps — `add` encrypts
 * the file into blocks here and returns the manifest, and the message that carries it (`room.send(caption,
 * { file })`, a DM conversation's `send`) tells the members — so a file is never announced before its blocks exist.
 */
import type { Libp2p } from '@libp2p/interface'
import type { HeliaInit } from 'helia'
import { NotStartedError } from '../errors.ts'
import { type AddFileOptions, addFile } from '../files/add-file.ts'
import { type CatFileOptions, catFile } from '../files/cat-file.ts'
import { createFilesHelia } from '../files/helia.ts'
import type { FileManifest } from '../types.ts'

export interface ClientFilesInit {
  /**
   * Where the blocks of files shared and fetched live: in memory when absent, which holds every file whole — a
   * Node device passes a filesystem store in its data dir (the CLI does), a browser an IndexedDB one.
   */
  blockstore?: HeliaInit['blockstore']
  datastore?: HeliaInit['datastore']
}

type FilesHelia = Awaited<ReturnType<typeof createFilesHelia>>

export class ClientFiles {
  readonly #init: ClientFilesInit
  #helia: Promise<FilesHelia> | undefined

  constructor(init: ClientFilesInit = {}) {
    this.#init = init
  }

  /** Starts the files node on `libp2p` (the client does, before it dials). */
  async start(libp2p: Libp2p): Promise<void> {
    this.#helia ??= createFilesHelia({
      libp2p,
      ...(this.#init.blockstore === undefined ? {} : { blockstore: this.#init.blockstore }),
      ...(this.#init.datastore === undefined ? {} : { datastore: this.#init.datastore }),
    })
    try {
      await this.#helia
    } catch (err) {
      // A failed start is not kept: the next start tries again.
      this.#helia = undefined
      throw err
    }
  }

  /** Encrypts `source` into blocks kept here (pinned) and returns the manifest a message carries to share it. */
  async add(
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    meta: { name: string; type: string },
    options: AddFileOptions = {},
  ): Promise<FileManifest> {
    return await addFile(await this.#started(), source, meta, options)
  }

  /**
   * The file `manifest` names, as a stream of its plaintext, fetched over bitswap from whoever is connected and
   * has its blocks (its sender, the relays that pinned it). The stream errors rather than closing when a check
   * fails or nobody has the blocks: keep what it wrote only once it closed.
   */
  async get(manifest: FileManifest, options: CatFileOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return catFile(await this.#started(), manifest, options)
  }

  /**
   * Drops the blocks no shared file needs (what downloads fetched): a file saved elsewhere need not stay here twice.
   * Files this device shared stay (pinned).
   */
  async collectGarbage(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#helia === undefined) return
    await (await this.#started()).gc(options)
  }

  /** Stops the Helia node (not libp2p). */
  async stop(): Promise<void> {
    const helia = this.#helia
    this.#helia = undefined
    await (await helia?.catch(() => undefined))?.stop()
  }

  #started(): Promise<FilesHelia> {
    return this.#helia ?? Promise.reject(new NotStartedError('start the client before sharing or fetching a file'))
  }
}
