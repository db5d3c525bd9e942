/** Files for tests of issue 16: generated as they are read (never held whole), hashed, and searched for plaintext. */
import { bytesToHex, createSha256 } from '../../sdk/src/crypto/primitives.ts'

/** In every 64 KiB chunk of a generated file: no block a relay or a non-member holds may contain it. */
export const PLAINTEXT_MARKER = new TextEncoder().encode('SECURECHAT-PLAINTEXT-MARKER-7f3a')

/**
 * A deterministic file of `bytes` (seeded by `seed`), generated as it is read: 64 KiB chunks of counter-seeded
 * bytes, each carrying PLAINTEXT_MARKER. `sha256` is filled in when the stream ends.
 */
export function generatedFile(
  bytes: number,
  seed = 0,
): { stream: ReadableStream<Uint8Array>; sha256: Promise<string> } {
  const chunkBytes = 64 * 1024
  const hash = createSha256()
  let produced = 0
  let resolve!: (hex: string) => void
  const sha256 = new Promise<string>((r) => {
    resolve = r
  })
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (produced >= bytes) {
          resolve(bytesToHex(hash.digest()))
          controller.close()
          return
        }
        const chunk = new Uint8Array(Math.min(chunkBytes, bytes - produced))
        const view = new DataView(chunk.buffer)
        for (let i = 0; i + 4 <= chunk.length; i += 4)
          view.setUint32(i, Math.imul(produced + i + seed, 2654435761) >>> 0)
        chunk.set(PLAINTEXT_MARKER.subarray(0, Math.min(PLAINTEXT_MARKER.length, chunk.length)))
        hash.update(chunk)
        produced += chunk.length
        controller.enqueue(chunk)
      },
    },
    { highWaterMark: 0 },
  )
  return { stream, sha256 }
}

/** Reads `stream` to its end, hashing as it goes; how it ended, never a throw. */
export async function drain(
  stream: ReadableStream<Uint8Array>,
  each?: (chunk: Uint8Array) => void | Promise<void>,
): Promise<{ bytes: number; sha256: string; error?: unknown }> {
  const hash = createSha256()
  let bytes = 0
  const reader = stream.getReader()
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      hash.update(next.value)
      bytes += next.value.length
      await each?.(next.value)
    }
    return { bytes, sha256: bytesToHex(hash.digest()) }
  } catch (error) {
    return { bytes, sha256: '', error }
  }
}

export function containsMarker(block: Uint8Array): boolean {
  const first = PLAINTEXT_MARKER[0]!
  for (
    let i = block.indexOf(first);
    i !== -1 && i <= block.length - PLAINTEXT_MARKER.length;
    i = block.indexOf(first, i + 1)
  ) {
    let match = true
    for (let j = 1; j < PLAINTEXT_MARKER.length && match; j++) match = block[i + j] === PLAINTEXT_MARKER[j]
    if (match) return true
  }
  return false
}
