/**
 * What the relay's file pins take, by topic and in all, and what pins under way have reserved: the figures every
 * pin request is admitted against. In memory, rebuilt from the pins' records at start (`file-pins.ts`); the pins
 * themselves, with their topic, size and time, are Helia's records beside the blocks.
 */

import { ciphertextSize } from '@securechat/sdk/crypto'
import type { FilePinRefusalReason } from '@securechat/sdk/files'
import { fileDagBudget } from '@securechat/sdk/files'
import { FILE_PIN_MIN_CHARGE_BYTES } from './file-pin-constants.ts'

/** A file the relay keeps. */
export interface FilePinRecord {
  /** The room or DM topic it was asked for (what its quota counts against). */
  topic: string
  /** Bytes its blocks take. */
  bytes: number
  /** When it was pinned (the relay's clock): retention counts from here. */
  atMs: number
}

export interface FilePinQuotas {
  /** Per file: the ciphertext's size at most. */
  maxFileBytes: number
  /** Per topic, all its files together. */
  roomQuotaBytes: number
  /** All files together. */
  totalQuotaBytes: number
}

export type FilePinAdmission =
  | { ok: true }
  | { ok: false; reason: Extract<FilePinRefusalReason, 'too-large' | 'room-quota' | 'relay-full'>; message: string }

export interface FilePinLedgerStats {
  files: number
  /** Bytes the files kept take. */
  bytes: number
  /** Bytes reserved by pins under way. */
  reservedBytes: number
}

export class FilePinLedger {
  readonly #quotas: FilePinQuotas
  readonly #pins = new Map<string, FilePinRecord>()
  /** Pins under way, by CID: their topic and what they may take (`fileDagBudget` of the claim). */
  readonly #reserved = new Map<string, { topic: string; charge: number }>()
  /** Charged bytes of each topic's pins and reservations. */
  readonly #byTopic = new Map<string, number>()
  #charged = 0
  #bytes = 0
  #reservedBytes = 0

  constructor(quotas: FilePinQuotas) {
    this.#quotas = quotas
  }

  get quotas(): Readonly<FilePinQuotas> {
    return this.#quotas
  }

  has(cid: string): boolean {
    return this.#pins.has(cid)
  }

  /**
   * Whether a file of `claimedBytes` may be pinned for `topic`; when it may, its share is reserved until
   * {@link commit} or {@link release}.
   */
  admit(cid: string, topic: string, claimedBytes: number): FilePinAdmission {
    const { maxFileBytes, roomQuotaBytes, totalQuotaBytes } = this.#quotas
    // The limit is a file's size as people see it (a "2 GiB" file), not its ciphertext's, a little larger.
    if (claimedBytes > ciphertextSize(maxFileBytes)) {
      return {
        ok: false,
        reason: 'too-large',
        message: `the file is over the ${maxFileBytes} bytes this relay keeps per file (${claimedBytes} bytes encrypted)`,
      }
    }
    const charge = chargeOf(fileDagBudget(claimedBytes))
    const topicBytes = this.#byTopic.get(topic) ?? 0
    if (topicBytes + charge > roomQuotaBytes) {
      return {
        ok: false,
        reason: 'room-quota',
        message: `this conversation's files take ${topicBytes} of the ${roomQuotaBytes} bytes this relay keeps per conversation`,
      }
    }
    if (this.#charged + charge > totalQuotaBytes) {
      return {
        ok: false,
        reason: 'relay-full',
        message: `the relay's files take ${this.#charged} of the ${totalQuotaBytes} bytes it keeps`,
      }
    }
    this.#reserved.set(cid, { topic, charge })
    this.#reservedBytes += charge
    this.#charge(topic, charge)
    return { ok: true }
  }

  /** The pin under way for `cid` ended without a pin. */
  release(cid: string): void {
    const reserved = this.#reserved.get(cid)
    if (reserved === undefined) return
    this.#reserved.delete(cid)
    this.#reservedBytes -= reserved.charge
    this.#charge(reserved.topic, -reserved.charge)
  }

  /** The pin under way for `cid` is done: its reservation becomes the file's actual size. */
  commit(cid: string, record: FilePinRecord): void {
    this.release(cid)
    this.add(cid, record)
  }

  /** A pin the relay holds (at start, from its records). */
  add(cid: string, record: FilePinRecord): void {
    if (this.#pins.has(cid)) return
    this.#pins.set(cid, record)
    this.#bytes += record.bytes
    this.#charge(record.topic, chargeOf(record.bytes))
  }

  remove(cid: string): FilePinRecord | undefined {
    const record = this.#pins.get(cid)
    if (record === undefined) return undefined
    this.#pins.delete(cid)
    this.#bytes -= record.bytes
    this.#charge(record.topic, -chargeOf(record.bytes))
    return record
  }

  /** CIDs of the files pinned before `beforeMs`. */
  pinnedBefore(beforeMs: number): string[] {
    return [...this.#pins].filter(([, record]) => record.atMs < beforeMs).map(([cid]) => cid)
  }

  stats(): FilePinLedgerStats {
    return { files: this.#pins.size, bytes: this.#bytes, reservedBytes: this.#reservedBytes }
  }

  #charge(topic: string, bytes: number): void {
    this.#charged += bytes
    const next = (this.#byTopic.get(topic) ?? 0) + bytes
    if (next <= 0) this.#byTopic.delete(topic)
    else this.#byTopic.set(topic, next)
  }
}

function chargeOf(bytes: number): number {
  return Math.max(bytes, FILE_PIN_MIN_CHARGE_BYTES)
}
