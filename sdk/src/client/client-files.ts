/**
 * A device's files (`client.files`): the Helia node they move through runs on the client's own libp2p node, started
 * the first time a file is shared or fetched (most sessions never do either). Sharing is two steps — `add` encrypts
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
  readonly #libp2p: () => Libp2p | undefined
  readonly #init: ClientFilesInit
  #helia: Promise<FilesHelia> | undefined

  constructor(libp2p: () => Libp2p | undefined, init: ClientFilesInit = {}) {
    this.#libp2p = libp2p
    this.#init = init
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
    const libp2p = this.#libp2p()
    if (libp2p === undefined) return Promise.reject(new NotStartedError('start the client before sharing a file'))
    this.#helia ??= createFilesHelia({
      libp2p,
      ...(this.#init.blockstore === undefined ? {} : { blockstore: this.#init.blockstore }),
      ...(this.#init.datastore === undefined ? {} : { datastore: this.#init.datastore }),
    })
    // A failed start is not kept: the next call tries again.
    this.#helia.catch(() => {
      this.#helia = undefined
    })
    return this.#helia
  }
}
