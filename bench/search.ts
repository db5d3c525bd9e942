/**
 * `BENCH_SUITES=search`: search in a device's own history at `BENCH_SEARCH_MESSAGES` messages (default 20,000, the
 * index's bound: 20 rooms of `MAX_SEARCH_MESSAGES / 20`), in a vault on disk as the CLI keeps it. In the same run:
 *
 * - `search.full_rebuild_ms`: the index built from every message state in the vault (each read and decrypted), then
 *   the query — what a search cost when nothing kept the index up to date (in memory: the index's own vault writes
 *   are left out, they cost what the disk's syncs cost); `search.read_states_ms`: the reading alone;
 * - `search.incremental_ms`: the query on the index a running client keeps up to date (its rooms' states followed,
 *   in memory), texts of the results included — what the web app and a client pay; its ratio to the rebuild;
 * - `search.cold_ms`: `securechat search`'s path — the index's parts read from the vault, the query, and the
 *   states of the results' conversations only;
 * - `search.update_us`: one arrival folded into the index (the message state, then the index), per message;
 * - `search.part_bytes` against `search.index_bytes`: what one arrival rewrites in the vault, and the whole index.
 *
 * Medians of `BENCH_SEARCH_RUNS` runs (default 5) of each query. Prints one JSON line with the figures and ratio.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_MESSAGES } from '@securechat/sdk/constants'
import { readMessageTexts, SearchIndex, SearchIndexer } from '@securechat/sdk/search'
import type { Address } from '@securechat/sdk/types'
import { openVault, platformVaultBackend, VAULT_ARGON2ID_MIN, type Vault } from '@securechat/sdk/vault'
import { MessageStates } from '../sdk/src/message-state.ts'
import { envInt } from './scale.ts'
import { type BenchRecord, compared } from './types.ts'

const ROOMS = 20
const SENDER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
/** Words the messages are made of: common ones most messages hold, and rarer ones a search narrows to. */
const WORDS = [
  'the',
  'and',
  'meeting',
  'tomorrow',
  'release',
  'review',
  'deploy',
  'relay',
  'message',
  'room',
  'café',
  'déjà',
  'vu',
  'naïve',
  'straße',
  '東京',
  'привет',
  'مرحبا',
  'budget',
  'invoice',
  'weekend',
  'coffee',
  'lunch',
  'ticket',
]
const QUERIES = ['meeting tomorrow', 'axolotl', 'caf', 'invoice release rev']
const unlock = { type: 'passphrase', passphrase: 'bench only' } as const

const id = (n: number): string => createHash('sha256').update(`search-bench ${n}`).digest('hex')

/** A message's text: 8–30 words, one in 997 holds "axolotl" (a rare term). */
function textOf(n: number): string {
  const count = 8 + (n % 23)
  const words = Array.from({ length: count }, (_, i) => WORDS[(n * 7 + i * 13 + (n >> 3)) % WORDS.length]!)
  if (n % 997 === 0) words.push('axolotl')
  return `${words.join(' ')} #${n}`
}

/** Message `n` folded into a room's states: its text by default, sent in the order of `n`. */
function arrive(states: MessageStates, n: number, at: { sentAtMs?: number; body?: string } = {}): void {
  states.text({
    id: id(n),
    sender: SENDER,
    senderPeerId: 'bench',
    sentAtMs: at.sentAtMs ?? 1_700_000_000_000 + n,
    body: at.body ?? textOf(n),
    parentId: undefined,
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function timed(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await work()
    times.push(performance.now() - started)
  }
  return median(times)
}

async function searchAll(indexer: SearchIndexer): Promise<number> {
  let found = 0
  for (const query of QUERIES) found += (await indexer.search(query)).length
  return found
}

export async function run(): Promise<BenchRecord[]> {
  const messages = envInt('BENCH_SEARCH_MESSAGES', MAX_SEARCH_MESSAGES)
  const runs = envInt('BENCH_SEARCH_RUNS', 5)
  const dir = await mkdtemp(join(tmpdir(), 'securechat-bench-search-'))
  const open = (): Promise<Vault> =>
    openVault({ backend: platformVaultBackend(dir), unlock, argon2id: VAULT_ARGON2ID_MIN })
  const perRoom = Math.ceil(messages / ROOMS)
  const roomIds = Array.from({ length: ROOMS }, (_, r) => createHash('sha256').update(`room ${r}`).digest('hex'))
  try {
    // The vault as a device leaves it: each room's message states.
    let vault = await open()
    const rooms = roomIds.map(() => new MessageStates({ maxMessages: perRoom + 1_000 }))
    for (let n = 0; n < messages; n++) {
      arrive(rooms[n % ROOMS]!, n)
    }
    for (const [r, states] of rooms.entries()) await vault.putJson(`room/messages/${roomIds[r]}`, states.serialize())

    // Before: every search read and decrypted every state, and brought the index up to date from them (here built
    // in memory, without the vault writes of the index: those cost what the disk's syncs cost).
    const fullMs = await timed(Math.min(runs, 3), async () => {
      const texts = await readMessageTexts(vault)
      texts.sort((a, b) => b.sentAtMs - a.sentAtMs)
      const index = new SearchIndex()
      for (const { text, ...message } of texts) index.set(message, text)
      for (const query of QUERIES) index.query(query, { limit: DEFAULT_SEARCH_LIMIT })
    })
    const readMs = await timed(Math.min(runs, 3), () => readMessageTexts(vault))
    const indexer = await SearchIndexer.open(vault) // built once (no index saved yet), its parts written
    const found = await searchAll(indexer)

    // Now: a running client's rooms hand their states over; the index follows them.
    for (const [r, states] of rooms.entries()) indexer.follow(`room:${roomIds[r]}`, states)
    const incrementalMs = await timed(runs, () => searchAll(indexer))
    if ((await searchAll(indexer)) !== found)
      throw new Error('the incremental index finds what the rebuilt one does not')

    // Arrivals: each folded into its room's state, then the index.
    const before = indexer.stats
    const arrivals = 1_000
    const startedArrivals = performance.now()
    for (let n = messages; n < messages + arrivals; n++) {
      arrive(rooms[n % ROOMS]!, n)
    }
    const updateUs = ((performance.now() - startedArrivals) * 1_000) / arrivals
    await indexer.flush()
    const one = await (async () => {
      const at = indexer.stats
      arrive(rooms[0]!, messages + arrivals, { sentAtMs: 1_800_000_000_000, body: 'one more' })
      await indexer.flush()
      const after = indexer.stats
      return { writes: after.shardWrites - at.shardWrites, bytes: after.bytesWritten - at.bytesWritten }
    })()
    const indexBytes = (await Promise.all((await vault.list('search/shard/')).map((name) => vault.get(name)))).reduce(
      (sum, part) => sum + (part?.byteLength ?? 0),
      0,
    )
    for (const [r, states] of rooms.entries()) await vault.putJson(`room/messages/${roomIds[r]}`, states.serialize())
    await vault.close()

    // `securechat search`: a process that opens the vault, reads the index's parts, searches.
    vault = await open()
    const coldMs = await timed(runs, async () => {
      const cold = await SearchIndexer.open(vault)
      if (cold.stats.rebuilds !== 0) throw new Error('the saved index was built again')
      await searchAll(cold)
    })
    await vault.close()

    const figures = {
      suite: 'search',
      messages,
      found,
      fullRebuildMs: Number(fullMs.toFixed(1)),
      readStatesMs: Number(readMs.toFixed(1)),
      incrementalMs: Number(incrementalMs.toFixed(2)),
      ratio: Number((fullMs / incrementalMs).toFixed(1)),
      coldMs: Number(coldMs.toFixed(1)),
      updateUs: Number(updateUs.toFixed(1)),
      partWritesPerArrival: one.writes,
      partBytes: one.bytes,
      indexBytes,
      arrivalsIndexed: indexer.stats.updates - before.updates,
    }
    console.log(JSON.stringify(figures))
    return [
      { name: 'search.full_rebuild_ms', unit: 'ms', value: fullMs },
      { name: 'search.read_states_ms', unit: 'ms', value: readMs },
      compared({ name: 'search.incremental_ms', unit: 'ms', value: incrementalMs, baseline: fullMs }),
      compared({ name: 'search.cold_ms', unit: 'ms', value: coldMs, baseline: fullMs }),
      { name: 'search.update_us', unit: 'µs/message', value: updateUs },
      compared({ name: 'search.part_bytes', unit: 'bytes', value: one.bytes, baseline: indexBytes }),
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
