/**
 * `BENCH_SUITES=file-transfer`: files between two libp2p nodes over bitswap (issue 16), ours against bare Helia.
 *
 * For each size in `BENCH_TRANSFER_MB` (default `64,256` MiB), two child processes, one per mode, each with two
 * libp2p nodes over TCP on 127.0.0.1 and a Helia with bitswap on each, blocks in a filesystem store in a temporary
 * directory (as a relay and the CLI keep them):
 * - **ours**: `addFile` on A from a generated stream (SHA-256, streaming AEAD, 1 MiB UnixFS blocks, pinned), then
 *   `catFile` on B (windows over bitswap, decryption, size and SHA-256 checks) to a counting sink;
 * - **bare**: the same bytes through `unixfs.addByteStream` (CIDv1, raw leaves, 1 MiB chunks) on A, `unixfs.cat` on
 *   B, nothing else.
 * Figures: MB/s (10^6 bytes a second of plaintext) of the add, the fetch and the two end to end; the peak RSS
 * growth of the process (both ends: the kernel's `maxRSS` above what it held before, uncollected garbage
 * included) and live memory (heap + ArrayBuffers after a full collection, sampled every 64 MiB fetched; the
 * largest sample). The ratio is ours ÷ bare. Prints `file-transfer: {…}` with every figure on one line.
 *
 * Through a relay (`BENCH_TRANSFER_RELAY_MB`, default `64`): three nodes, A adds, the relay R (connected to A) pins
 * the file — ours `pinFile` (`fetchFileBlocks` in windows, checked, then the pin walk), bare Helia `pins.add`, which
 * fetches as it walks — and B, connected to R only, reads it from R. Rows `file_transfer.via_relay.<add|pin|cat|
 * endToEnd>.<size>`: what a file shared to a relay costs until a member who was never connected to the sender has it.
 *
 * Also what every client pays at start for its files node (started before its first dial, whether it ever shares):
 * `files_node_start`, the median time of `createFilesHelia` on a started libp2p node, and the live memory it adds,
 * against the libp2p node's own start and memory (the baseline), over {@link START_ROUNDS} rounds in one child.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { unixfs } from '@helia/unixfs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { FsBlockstore } from 'blockstore-fs'
import { createSecureChatLibp2p } from '../sdk/src/client/libp2p.ts'
import { addFile, catFile, createFilesHelia, pinFile } from '../sdk/src/files/index.ts'
import { type BenchRecord, compared } from './types.ts'

const MiB = 1024 * 1024
const CHUNK_BYTES = 64 * 1024
const START_ROUNDS = 15

type Route = 'direct' | 'relay'

interface TransferResult {
  mode: 'ours' | 'bare'
  route: Route
  mib: number
  addMBps: number
  /** Through a relay: the relay's pin (its fetch from the sender). */
  pinMBps?: number
  catMBps: number
  endToEndMBps: number
  rssGrowthMiB: number
  liveMaxMiB: number
}

export async function run(): Promise<BenchRecord[]> {
  const sizes = (process.env.BENCH_TRANSFER_MB ?? '64,256').split(',').map(Number)
  const records: BenchRecord[] = []
  const summary: Record<string, unknown> = {}
  for (const mib of sizes) {
    // One process per mode and size, one after the other: each has the cores, and its own peak RSS.
    const bare = await child('bare', mib)
    const ours = await child('ours', mib)
    summary[`${mib}MiB`] = { ours, bare, ratio: { endToEnd: ratio(ours.endToEndMBps, bare.endToEndMBps) } }
    for (const figure of ['addMBps', 'catMBps', 'endToEndMBps'] as const) {
      records.push(
        compared({
          name: `file_transfer.${figure.replace('MBps', '')}.${mib}MiB`,
          unit: 'MB/s',
          value: ours[figure],
          baseline: bare[figure],
        }),
      )
    }
    records.push(
      compared({
        name: `file_transfer.rss_growth.${mib}MiB`,
        unit: 'MiB',
        value: ours.rssGrowthMiB,
        baseline: bare.rssGrowthMiB,
      }),
    )
    records.push(
      compared({
        name: `file_transfer.live_max.${mib}MiB`,
        unit: 'MiB',
        value: ours.liveMaxMiB,
        baseline: bare.liveMaxMiB,
      }),
    )
  }
  for (const mib of (process.env.BENCH_TRANSFER_RELAY_MB ?? '64').split(',').filter(Boolean).map(Number)) {
    const bare = await child('bare', mib, 'relay')
    const ours = await child('ours', mib, 'relay')
    summary[`${mib}MiB via relay`] = { ours, bare, ratio: { endToEnd: ratio(ours.endToEndMBps, bare.endToEndMBps) } }
    for (const figure of ['addMBps', 'pinMBps', 'catMBps', 'endToEndMBps'] as const) {
      records.push(
        compared({
          name: `file_transfer.via_relay.${figure.replace('MBps', '')}.${mib}MiB`,
          unit: 'MB/s',
          value: ours[figure] ?? 0,
          baseline: bare[figure] ?? 0,
        }),
      )
    }
  }
  const start = await startChild()
  summary.filesNodeStart = start
  records.push(
    compared({ name: 'file_transfer.files_node_start', unit: 'ms', value: start.filesMs, baseline: start.libp2pMs }),
    compared({
      name: 'file_transfer.files_node_memory',
      unit: 'KiB',
      value: start.filesLiveKiB,
      baseline: start.libp2pLiveKiB,
    }),
  )
  summary.loadAverage = loadavg().map((l) => Number(l.toFixed(2)))
  console.log(`file-transfer: ${JSON.stringify(summary)}`)
  return records
}

async function child(mode: 'ours' | 'bare', mib: number, route: Route = 'direct'): Promise<TransferResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', fileURLToPath(import.meta.url), mode, String(mib), route],
    { maxBuffer: 16 * MiB },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as TransferResult
}

interface StartResult {
  libp2pMs: number
  filesMs: number
  libp2pLiveKiB: number
  filesLiveKiB: number
}

async function startChild(): Promise<StartResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--expose-gc',
    fileURLToPath(import.meta.url),
    'start',
  ])
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as StartResult
}

/** The child of the start figures: libp2p nodes started, each then given a files node, timed and weighed. */
async function starts(): Promise<void> {
  const live = liveMemory()
  const libp2pMs: number[] = []
  const filesMs: number[] = []
  const libp2pLive: number[] = []
  const filesLive: number[] = []
  for (let round = 0; round < START_ROUNDS; round++) {
    const privateKey = await generateKeyPair('Ed25519')
    const before = live()
    const t0 = performance.now()
    const libp2p = await createSecureChatLibp2p({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const t1 = performance.now()
    const withLibp2p = live()
    const t2 = performance.now()
    const helia = await createFilesHelia({ libp2p })
    const t3 = performance.now()
    const withFiles = live()
    libp2pMs.push(t1 - t0)
    filesMs.push(t3 - t2)
    libp2pLive.push(withLibp2p - before)
    filesLive.push(withFiles - withLibp2p)
    await helia.stop()
    await libp2p.stop()
  }
  // The first rounds load and compile modules: the median leaves them out.
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const result: StartResult = {
    libp2pMs: Number(median(libp2pMs).toFixed(1)),
    filesMs: Number(median(filesMs).toFixed(1)),
    libp2pLiveKiB: Number((median(libp2pLive) / 1024).toFixed(1)),
    filesLiveKiB: Number((median(filesLive) / 1024).toFixed(1)),
  }
  console.log(JSON.stringify(result))
}

/**
 * The child: two nodes (three through a relay), one transfer of `mib` MiB in `mode`, its figures printed as the
 * last line.
 */
async function transfer(mode: 'ours' | 'bare', mib: number, route: Route): Promise<void> {
  const live = liveMemory()
  const dir = await mkdtemp(join(tmpdir(), 'securechat-bench-transfer-'))
  const nodes = await Promise.all(
    (route === 'relay' ? ['a', 'b', 'r'] : ['a', 'b']).map(async (name) => {
      const libp2p = await createSecureChatLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
      })
      const blockstore = new FsBlockstore(join(dir, name))
      await blockstore.open()
      const helia = await createFilesHelia({ libp2p, blockstore })
      return { libp2p, helia, blockstore }
    }),
  )
  const [a, b, r] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0] | undefined]
  // Through a relay, B never meets A: it can only read what R pinned.
  if (r === undefined) await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]!)
  else {
    await r.libp2p.dial(a.libp2p.getMultiaddrs()[0]!)
    await b.libp2p.dial(r.libp2p.getMultiaddrs()[0]!)
  }
  const total = mib * MiB
  const liveBefore = live()
  const rssBefore = process.memoryUsage().rss
  const samples: number[] = []
  let received = 0
  let nextSample = 64 * MiB
  const count = (chunk: Uint8Array) => {
    received += chunk.length
    if (received >= nextSample) {
      samples.push(live() - liveBefore)
      nextSample += 64 * MiB
    }
  }

  const addStart = performance.now()
  let pinStart: number
  let catStart: number
  if (mode === 'ours') {
    const manifest = await addFile(a.helia, generated(total), { name: 'bench.bin', type: 'application/octet-stream' })
    pinStart = performance.now()
    if (r !== undefined) await pinFile(r.helia, manifest)
    catStart = performance.now()
    const reader = catFile(b.helia, manifest).getReader()
    for (let next = await reader.read(); !next.done; next = await reader.read()) count(next.value)
  } else {
    const cid = await unixfs(a.helia).addByteStream(iterate(generated(total)), { cidVersion: 1, rawLeaves: true })
    pinStart = performance.now()
    if (r !== undefined) {
      for await (const _ of r.helia.pins.add(cid)) {
        // drain: bare Helia fetches each block as its pin walk reaches it
      }
    }
    catStart = performance.now()
    for await (const chunk of unixfs(b.helia).cat(cid)) count(chunk)
  }
  const end = performance.now()
  if (received !== total) throw new Error(`file-transfer ${mode}: ${received} bytes of ${total}`)
  const mbps = (ms: number) => Number((total / 1e6 / (ms / 1000)).toFixed(1))
  const result: TransferResult = {
    mode,
    route,
    mib,
    addMBps: mbps(pinStart - addStart),
    ...(r === undefined ? {} : { pinMBps: mbps(catStart - pinStart) }),
    catMBps: mbps(end - catStart),
    endToEndMBps: mbps(end - addStart),
    rssGrowthMiB: Number(((process.resourceUsage().maxRSS * 1024 - rssBefore) / MiB).toFixed(1)),
    liveMaxMiB: Number((Math.max(0, ...samples) / MiB).toFixed(1)),
  }
  for (const node of nodes) {
    await node.helia.stop()
    await node.libp2p.stop()
    await node.blockstore.close()
  }
  await rm(dir, { recursive: true, force: true })
  console.log(JSON.stringify(result))
}

/** Live memory (JS heap + ArrayBuffers after a full collection) as a function; the child runs with --expose-gc. */
function liveMemory(): () => number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('file-transfer child: start node with --expose-gc')
  return () => {
    gc()
    const usage = process.memoryUsage()
    return usage.heapUsed + usage.arrayBuffers
  }
}

/** `total` bytes of pseudo-random content in 64 KiB chunks, made as they are read (a fresh chunk each, as a file reader's). */
function generated(total: number): ReadableStream<Uint8Array> {
  const block = crypto.getRandomValues(new Uint8Array(CHUNK_BYTES))
  let produced = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (produced >= total) return controller.close()
        const chunk = block.slice(0, Math.min(CHUNK_BYTES, total - produced))
        // Differ from chunk to chunk, so that no two blocks are the same and deduplicated.
        new DataView(chunk.buffer).setFloat64(0, produced)
        produced += chunk.length
        controller.enqueue(chunk)
      },
    },
    { highWaterMark: 0 },
  )
}

async function* iterate(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  for (let next = await reader.read(); !next.done; next = await reader.read()) yield next.value
}

const ratio = (value: number, baseline: number) => Number((value / baseline).toFixed(2))

if (import.meta.main) {
  const [mode, mib, route] = process.argv.slice(2)
  if (mode === 'ours' || mode === 'bare') await transfer(mode, Number(mib), route === 'relay' ? 'relay' : 'direct')
  else if (mode === 'start') await starts()
  else await run()
}
