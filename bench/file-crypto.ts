/**
 * `BENCH_SUITES=file-crypto`: the file streams of `sdk/src/crypto/file-stream.ts` (issue 16), on one core.
 *
 * - Throughput: `BENCH_FILE_MB` MiB (default 64) of plaintext held in memory, written to `encryptFileStream` in
 *   `BENCH_FILE_CHUNK_KB` KiB chunks (default 64, what file readers hand out) and read out to a sink that only
 *   counts; the ciphertext, encrypted once, through `decryptFileStream` the same way. Each at 64 KiB, 256 KiB and
 *   1 MiB segments (the segment size is a testing parameter here, the product uses `FILE_SEGMENT_BYTES`), the best
 *   of `BENCH_FILE_RUNS` passes (default 5). Baselines on the same bytes and segment size: bare WebCrypto
 *   AES-256-GCM (`crypto.subtle`, the key imported once, one segment per call, awaited in turn), the issue's
 *   reference; and bare `node:crypto` AES-256-GCM (a cipher per segment, as `primitives.ts` seals on Node).
 * - Memory: `BENCH_FILE_MEMORY_MB` sizes (default 64 and 512 MiB) streamed through encrypt → decrypt in a child
 *   process each (product parameters), from a generator to a counting sink, no file held anywhere: peak RSS (the
 *   kernel's `maxRSS`: garbage not yet collected included) and live memory (JS heap + ArrayBuffers after a full
 *   collection, every 16 MiB: the median and the largest sample) above what the process held before the stream
 *   began. The largest sample swings: V8 frees ArrayBuffers' memory after the collection, on another thread.
 *
 * Prints `file-crypto: {…}` with every figure on one line.
 */
import { execFile } from 'node:child_process'
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  createFileKey,
  decryptFileStreamWith,
  encryptFileStreamWith,
  type FileStreamTestingParams,
} from '../sdk/src/crypto/file-stream.ts'
import { type BenchRecord, compared } from './types.ts'

const SEGMENT_SIZES = [64 * 1024, 256 * 1024, 1024 * 1024]
const MiB = 1024 * 1024
const TAG_BYTES = 16

export async function run(): Promise<BenchRecord[]> {
  const totalBytes = envInt('BENCH_FILE_MB', 64) * MiB
  const chunkBytes = envInt('BENCH_FILE_CHUNK_KB', 64) * 1024
  const runs = envInt('BENCH_FILE_RUNS', 5)
  const memorySizes = (process.env.BENCH_FILE_MEMORY_MB ?? '64,512').split(',').map(Number)
  const plaintext = new Uint8Array(totalBytes)
  for (let i = 0; i < totalBytes; i += 65_536) crypto.getRandomValues(plaintext.subarray(i, i + 65_536))
  const key = createFileKey()
  const records: BenchRecord[] = []
  const summary: Record<string, unknown> = { totalMiB: totalBytes / MiB, chunkKiB: chunkBytes / 1024, runs }

  for (const segment of SEGMENT_SIZES) {
    const testing: FileStreamTestingParams = { ciphertextSegmentBytes: segment }
    const label = `${segment / 1024}KiB`
    const ciphertext = await drain(chunks(plaintext, chunkBytes).pipeThrough(encryptFileStreamWith(key, {}, testing)))
    const encrypt = () =>
      best(runs, () =>
        timed(totalBytes, () =>
          count(chunks(plaintext, chunkBytes).pipeThrough(encryptFileStreamWith(key, {}, testing))),
        ),
      )
    const decrypt = () =>
      best(runs, () =>
        timed(totalBytes, () =>
          count(chunks(ciphertext, chunkBytes).pipeThrough(decryptFileStreamWith(key, {}, testing))),
        ),
      )
    const rawKey = crypto.getRandomValues(new Uint8Array(32))
    const sealed = sealSegments(rawKey, plaintext, segment)
    const bare = (pass: typeof webCryptoPass, op: 'encrypt' | 'decrypt') =>
      best(runs, () => timed(totalBytes, () => pass(rawKey, plaintext, sealed, segment, op)))
    // One after the other, never two at once: each pass has the core to itself.
    const figures = {
      encrypt: await encrypt(),
      decrypt: await decrypt(),
      webCryptoEncrypt: await bare(webCryptoPass, 'encrypt'),
      webCryptoDecrypt: await bare(webCryptoPass, 'decrypt'),
      nodeCryptoEncrypt: await bare(nodeCryptoPass, 'encrypt'),
      nodeCryptoDecrypt: await bare(nodeCryptoPass, 'decrypt'),
    }
    summary[label] = {
      ...figures,
      ratioToWebCrypto: {
        encrypt: ratio(figures.encrypt, figures.webCryptoEncrypt),
        decrypt: ratio(figures.decrypt, figures.webCryptoDecrypt),
      },
      ratioToNodeCrypto: {
        encrypt: ratio(figures.encrypt, figures.nodeCryptoEncrypt),
        decrypt: ratio(figures.decrypt, figures.nodeCryptoDecrypt),
      },
    }
    for (const op of ['encrypt', 'decrypt'] as const) {
      const value = figures[op]
      const web = op === 'encrypt' ? figures.webCryptoEncrypt : figures.webCryptoDecrypt
      const ssl = op === 'encrypt' ? figures.nodeCryptoEncrypt : figures.nodeCryptoDecrypt
      const goal = { bound: 'min', ratio: 0.9 } as const
      records.push(compared({ name: `file_crypto.${op}.${label}`, unit: 'MB/s', value, baseline: web, goal }))
      records.push(compared({ name: `file_crypto.${op}.${label}.vs_node_crypto`, unit: 'MB/s', value, baseline: ssl }))
    }
  }

  const memory: Record<string, unknown> = {}
  for (const mib of memorySizes) {
    const result = await memoryChild(mib, chunkBytes)
    memory[`${mib}MiB`] = result
    records.push({ name: `file_crypto.memory.${mib}MiB.rss_growth`, unit: 'MiB', value: result.rssGrowthMiB })
    records.push({ name: `file_crypto.memory.${mib}MiB.live_growth`, unit: 'MiB', value: result.liveGrowthMiB })
  }
  summary.memory = memory
  summary.loadAverage = loadavg().map((l) => Number(l.toFixed(2)))
  console.log(`file-crypto: ${JSON.stringify(summary)}`)
  return records
}

/** `bytes` as a stream of `chunkBytes` views (no copies: the source is read as a file reader would hand it out). */
function chunks(bytes: Uint8Array, chunkBytes: number): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.length) return controller.close()
        controller.enqueue(bytes.subarray(offset, offset + chunkBytes))
        offset += chunkBytes
      },
    },
    { highWaterMark: 0 },
  )
}

/** Each chunk of `stream` to `each`, in order (a reader loop: the project's lib types lack streams' async iteration). */
async function forEachChunk(stream: ReadableStream<Uint8Array>, each: (chunk: Uint8Array) => void): Promise<void> {
  const reader = stream.getReader()
  for (let next = await reader.read(); !next.done; next = await reader.read()) each(next.value)
}

async function count(stream: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0
  await forEachChunk(stream, (chunk) => {
    total += chunk.length
  })
  return total
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  await forEachChunk(stream, (chunk) => parts.push(chunk))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** MB/s (10^6 bytes a second) of plaintext through `work`. */
async function timed(bytes: number, work: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await work()
  return bytes / 1e6 / ((performance.now() - start) / 1000)
}

async function best(runs: number, pass: () => Promise<number>): Promise<number> {
  let top = 0
  for (let i = 0; i < runs; i++) top = Math.max(top, await pass())
  return Number(top.toFixed(0))
}

/** A positive integer from the environment (not `scale.ts`'s: that module loads the sdk's identity and ethers into the memory child). */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${raw}`)
  return value
}

export const ratio = (value: number, baseline: number) => Number((value / baseline).toFixed(2))

/**
 * The same plaintext cut into segments and sealed one by one, counter nonces, one key: what the baselines decrypt.
 * Each segment is `ciphertext || tag`, as WebCrypto and the stream lay it out.
 */
function sealSegments(key: Uint8Array, plaintext: Uint8Array, segment: number): Uint8Array<ArrayBuffer>[] {
  const sealed: Uint8Array<ArrayBuffer>[] = []
  for (let offset = 0, i = 0; offset < plaintext.length; offset += segment - TAG_BYTES, i++) {
    const cipher = createCipheriv('aes-256-gcm', key, counterNonce(i))
    const body = cipher.update(plaintext.subarray(offset, offset + segment - TAG_BYTES))
    cipher.final()
    sealed.push(new Uint8Array(Buffer.concat([body, cipher.getAuthTag()])))
  }
  return sealed
}

function counterNonce(i: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12)
  new DataView(nonce.buffer).setUint32(8, i)
  return nonce
}

/** Bare WebCrypto AES-256-GCM over the plaintext (or its sealed segments), one `segment`-byte call at a time. */
async function webCryptoPass(
  rawKey: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>[],
  segment: number,
  op: 'encrypt' | 'decrypt',
): Promise<void> {
  const key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt', 'decrypt'])
  const step = segment - TAG_BYTES
  for (let i = 0; i * step < plaintext.length; i++) {
    const iv = counterNonce(i)
    if (op === 'encrypt')
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext.subarray(i * step, (i + 1) * step))
    else await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed[i]!)
  }
}

/** Bare `node:crypto` AES-256-GCM over the same bytes, a cipher per segment (as `primitives.ts` seals on Node). */
async function nodeCryptoPass(
  key: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>[],
  segment: number,
  op: 'encrypt' | 'decrypt',
): Promise<void> {
  const step = segment - TAG_BYTES
  for (let i = 0; i * step < plaintext.length; i++) {
    if (op === 'encrypt') {
      const cipher = createCipheriv('aes-256-gcm', key, counterNonce(i))
      cipher.update(plaintext.subarray(i * step, (i + 1) * step))
      cipher.final()
      cipher.getAuthTag()
    } else {
      const one = sealed[i]!
      const decipher = createDecipheriv('aes-256-gcm', key, counterNonce(i))
      decipher.setAuthTag(one.subarray(one.length - TAG_BYTES))
      decipher.update(one.subarray(0, one.length - TAG_BYTES))
      decipher.final()
    }
  }
}

interface MemoryResult {
  mib: number
  rssGrowthMiB: number
  liveGrowthMiB: number
  liveGrowthMaxMiB: number
  seconds: number
}

async function memoryChild(mib: number, chunkBytes: number): Promise<MemoryResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', fileURLToPath(import.meta.url), 'memory', String(mib), String(chunkBytes)],
    { maxBuffer: 1024 * 1024 },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as MemoryResult
}

/** The child: `mib` MiB generated, encrypted, decrypted and counted, never held; prints its peaks. */
async function memoryRun(mib: number, chunkBytes: number): Promise<void> {
  const key = createFileKey()
  const block = crypto.getRandomValues(new Uint8Array(chunkBytes))
  const total = mib * MiB
  let produced = 0
  const source = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (produced >= total) return controller.close()
        // A fresh chunk each time, as a file reader allocates them: garbage the collector must keep up with.
        controller.enqueue(block.slice(0, Math.min(chunkBytes, total - produced)))
        produced += chunkBytes
      },
    },
    { highWaterMark: 0 },
  )
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('memory run: start node with --expose-gc')
  /** What the process holds after a full collection: the JS heap and the ArrayBuffers' backing stores. */
  const live = (): number => {
    gc()
    const usage = process.memoryUsage()
    return usage.heapUsed + usage.arrayBuffers
  }
  const liveBefore = live()
  const rssBefore = process.memoryUsage().rss
  const samples: number[] = []
  let received = 0
  let chunksSeen = 0
  const start = performance.now()
  const plain = source.pipeThrough(encryptFileStreamWith(key, {}, {})).pipeThrough(decryptFileStreamWith(key, {}, {}))
  await forEachChunk(plain, (chunk) => {
    received += chunk.length
    // Every 16th plaintext segment (16 MiB): a full collection costs a few ms.
    if (++chunksSeen % 16 === 0) samples.push(live() - liveBefore)
  })
  if (received !== total) throw new Error(`memory run: ${received} bytes out of ${total}`)
  const maxRss = process.resourceUsage().maxRSS * 1024
  const result: MemoryResult = {
    mib,
    rssGrowthMiB: Number(((maxRss - rssBefore) / MiB).toFixed(1)),
    liveGrowthMiB: Number((median(samples) / MiB).toFixed(2)),
    liveGrowthMaxMiB: Number((Math.max(...samples) / MiB).toFixed(2)),
    seconds: Number(((performance.now() - start) / 1000).toFixed(2)),
  }
  console.log(JSON.stringify(result))
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

if (import.meta.main) {
  if (process.argv[2] === 'memory') await memoryRun(Number(process.argv[3]), Number(process.argv[4]))
  else await run()
}
