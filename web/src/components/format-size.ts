/** Sizes, speeds and times left of files as people read them: "12 MiB", "1.5 MiB/s", "about 2 min left". */
import type { FileTransferProgress } from '@securechat/sdk/files'

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const

/** `bytes` in the largest binary unit that keeps it at 1 or more, with one decimal below 10 ("3.2 MiB", "12 MiB"). */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return ''
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value)
  return `${shown} ${UNITS[unit]}`
}

/** "about 5 s left", "about 3 min left", "about 2 h left"; '' when unknown. */
export function timeLeft(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return ''
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`
  return `about ${Math.round(seconds / 3600)} h left`
}

/**
 * "3.2 MiB of 12 MiB · 1.5 MiB/s · about 6 s left": what a progress line says (the size, speed and time once known).
 */
export function transferLine(progress: FileTransferProgress): string {
  const of = progress.totalBytes === undefined ? '' : ` of ${humanSize(progress.totalBytes)}`
  const parts = [`${humanSize(progress.bytes)}${of}`]
  if (progress.bytesPerSecond > 0) parts.push(`${humanSize(progress.bytesPerSecond)}/s`)
  const left = timeLeft(progress.secondsLeft)
  if (left !== '') parts.push(left)
  return parts.join(' · ')
}
