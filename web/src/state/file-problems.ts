/** What went wrong with a file, in words for the person who shared or fetched it (not the sdk's error names). */
import { describeError } from './errors.ts'

export const INTEGRITY_FAILED = 'This file failed its integrity check — it was not saved.'
export const UNAVAILABLE =
  'This file cannot be fetched: its sender and the relays that kept it are offline, or it expired from them.'
export const PREVIEW_INTEGRITY_FAILED = 'This file failed its integrity check — it is not shown.'

/** Why a download or preview failed; undefined for a cancel (the person's own, nothing to tell). */
export function downloadProblem(err: unknown, what: 'download' | 'preview' = 'download'): string | undefined {
  const name = (err as { name?: unknown } | null)?.name
  if (name === 'AbortError') return undefined
  if (name === 'FileIntegrityError' || name === 'FileDecryptionError' || name === 'InvalidFileManifestError') {
    return what === 'download' ? INTEGRITY_FAILED : PREVIEW_INTEGRITY_FAILED
  }
  if (name === 'FileUnavailableError') return UNAVAILABLE
  if (name === 'TooLargeForThisBrowserError' || name === 'SaveTargetLostError' || name === 'DownloadNotStartedError') {
    return (err as Error).message
  }
  return describeError(err)
}

/** Why a share failed; undefined for a cancel. */
export function shareProblem(err: unknown): string | undefined {
  if ((err as { name?: unknown } | null)?.name === 'AbortError') return undefined
  return describeError(err)
}

/**
 * A share went out but no relay keeps the file (`keptBy` empty): said after the share, since the file is still
 * there — on this device, while this tab is open.
 */
export function notKeptWarning(refusedBy: ReadonlyArray<{ reason: string }>): string {
  const tail = 'it stays available only while this tab is open.'
  if (refusedBy.length === 0) return `No relay that keeps files is connected: ${tail}`
  const reasons = new Set(refusedBy.map((r) => r.reason))
  if (reasons.has('too-large')) return `No relay would keep this file — it is over the relay's size limit: ${tail}`
  if (reasons.has('room-quota') || reasons.has('relay-full')) {
    return `No relay would keep this file — the relay's space for files is full: ${tail}`
  }
  return `No relay would keep this file: ${tail}`
}
