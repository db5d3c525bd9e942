/**
 * Finding a message's batch without a proof at hand: scan `Anchored` events, fetch each batch's leaf list from
 * IPFS by the CID the event carries, and look for the message. Leaf lists are checked against their anchored
 * root on arrival, so they may come from anyone.
 */
import type { AbortOptions } from '../types.ts'
import { type AuditBatch, proveInclusion, roomLeaves } from './batch.ts'
import type { AnchoredEvent, AnchoredEventFilter, AuditLogReader } from './chain.ts'
import { LEAF_LIST_FETCH_CONCURRENCY } from './constants.ts'
import { type AuditIpfs, fetchLeafList } from './ipfs.ts'
import type { InclusionEvidence } from './verify.ts'

/** An anchored batch whose leaf list was fetched and matched its root. */
export interface FoundBatch {
  event: AnchoredEvent
  batch: AuditBatch
}

export interface FetchAnchoredBatchesParams {
  reader: Pick<AuditLogReader, 'anchoredEvents'>
  ipfs: Pick<AuditIpfs, 'fetch'>
  filter?: AnchoredEventFilter
  /** Keep only batches holding at least one leaf of this room. */
  roomId?: string
  /** Time allowed per leaf list (default `LEAF_LIST_FETCH_TIMEOUT_MS`). */
  timeoutMs?: number
  /** A batch whose leaf list could not be fetched or does not match its root. */
  onUnavailable?: (event: AnchoredEvent, error: unknown) => void
}

/** Every anchored batch (in block order) whose leaf list could be fetched, optionally only one room's. */
export async function fetchAnchoredBatches(
  params: FetchAnchoredBatchesParams,
  options: AbortOptions = {},
): Promise<FoundBatch[]> {
  const events = await params.reader.anchoredEvents(params.filter ?? {}, options)
  const found: Array<FoundBatch | undefined> = new Array(events.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < events.length) {
      const index = next++
      const event = events[index]!
      try {
        const batch = await fetchLeafList(
          params.ipfs,
          { cid: event.cid, root: event.root },
          { ...options, ...(params.timeoutMs === undefined ? {} : { timeoutMs: params.timeoutMs }) },
        )
        if (params.roomId === undefined || roomLeaves(batch, params.roomId).length > 0) found[index] = { event, batch }
      } catch (err) {
        options.signal?.throwIfAborted()
        params.onUnavailable?.(event, err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(LEAF_LIST_FETCH_CONCURRENCY, events.length) }, worker))
  return found.filter((b): b is FoundBatch => b !== undefined)
}

/** The evidence for a message from the earliest batch that holds it, or undefined. */
export function findEvidence(
  batches: readonly FoundBatch[],
  find: { messageId: string; roomId?: string },
): InclusionEvidence | undefined {
  const ordered = [...batches].sort((a, b) => a.event.blockNumber - b.event.blockNumber)
  for (const { event, batch } of ordered) {
    const proof = proveInclusion(batch, find)
    if (proof !== undefined) return { ...proof, cid: event.cid, count: event.count }
  }
  // Not in the room asked for: maybe anchored in another room (the verdict then says wrong-room).
  if (find.roomId !== undefined) return findEvidence(batches, { messageId: find.messageId })
  return undefined
}
