/**
 * Fifty members behind one address — a carrier NAT, a company's proxy — in one room over a relay at its defaults
 * (`securechat relay`), messages going both ways for 40 s, far longer than gossipsub's score decay interval (1 s):
 * every member gets every message. gossipsub's default IP-colocation penalty once made a relay stop forwarding
 * everyone's records from the eleventh peer of one address on; the relay's per-address caps (64 connections, 2 new
 * a second) now do that job, and must not refuse a NAT's fifty.
 *
 * The address must not be loopback, which the relay counts as carrying many clients and exempts from its per-address
 * limits: the members run in a network namespace of their own and reach the relay over a veth pair, from 10.x.y.2.
 * Five processes of ten real sdk clients each; the relay is a real `securechat relay` process, the senders a client
 * in this process (over loopback) and the first member of each namespace process.
 */
import { execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { killAfterEach, startRelayProcess, waitFor } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { metrics, refusalLines } from './helpers/relay-metrics.ts'
import { until } from './helpers/room-inbox.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const run = promisify(execFile)
const NAT_MEMBERS = fileURLToPath(new URL('./helpers/nat-members.ts', import.meta.url))
const PROCESSES = 5
const MEMBERS_PER_PROCESS = 10
const MESSAGES = 100
/** 100 messages 400 ms apart: 40 s. */
const SEND_GAP_MS = 400
/** Fifty clients starting on a loaded 2-core machine, then the last messages crossing it. */
const READY_TIMEOUT_MS = 240_000
const DELIVERY_TIMEOUT_MS = 120_000

const track = killAfterEach()
const stoppers = stopAfterEach()
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

/** A network namespace joined to this one by a veth pair: this side is `host`, the namespace's side `inside`. */
async function namespaceBehindOneAddress(): Promise<{ name: string; host: string; inside: string }> {
  const tag = (process.pid % 100_000).toString()
  const name = `scnat${tag}`
  const octet = (n: number): number => 1 + (n % 250)
  const subnet = `10.${octet(process.pid >> 8)}.${octet(process.pid)}`
  await run('ip', ['netns', 'add', name])
  cleanups.push(() => run('ip', ['netns', 'del', name]))
  await run('ip', ['link', 'add', `sc${tag}h`, 'type', 'veth', 'peer', 'name', `sc${tag}n`, 'netns', name])
  await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', `sc${tag}h`])
  await run('ip', ['link', 'set', `sc${tag}h`, 'up'])
  await run('ip', ['-n', name, 'addr', 'add', `${subnet}.2/24`, 'dev', `sc${tag}n`])
  await run('ip', ['-n', name, 'link', 'set', `sc${tag}n`, 'up'])
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
  return { name, host: `${subnet}.1`, inside: `${subnet}.2` }
}

interface MemberProcess {
  /** What each of its members received. */
  received: Array<Set<string>>
  /** Messages a member reported it could not read, with why: each must be read later. */
  undecryptable: Array<{ member: number; id: string; reason: string }>
  /** The ids each member read. */
  readIds: Array<Set<string>>
  send(text: string): void
  ready: Promise<void>
}

function startMembers(namespace: string, relay: string, invite: string): MemberProcess {
  const child = spawn(
    'ip',
    ['netns', 'exec', namespace, process.execPath, NAT_MEMBERS, String(MEMBERS_PER_PROCESS), relay, invite],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000)
  })
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`members exited (${code}): ${stderr}`))),
  )
  exited.catch(() => {})
  cleanups.push(async () => {
    child.kill('SIGKILL')
  })
  const process_: MemberProcess = {
    received: Array.from({ length: MEMBERS_PER_PROCESS }, () => new Set<string>()),
    undecryptable: [],
    readIds: Array.from({ length: MEMBERS_PER_PROCESS }, () => new Set<string>()),
    send: (text) => void child.stdin.write(`${JSON.stringify({ send: text })}\n`),
    ready: Promise.race([
      new Promise<void>((resolve) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const event = JSON.parse(line) as {
            ready?: number
            member?: number
            id?: string
            text?: string
            undecryptable?: string
          }
          if (event.ready !== undefined) resolve()
          if (event.member !== undefined && event.text !== undefined) process_.received[event.member]!.add(event.text)
          if (event.member !== undefined && event.id !== undefined && event.text !== undefined)
            process_.readIds[event.member]!.add(event.id)
          if (event.member !== undefined && event.id !== undefined && event.undecryptable !== undefined)
            process_.undecryptable.push({ member: event.member, id: event.id, reason: event.undecryptable })
        })
      }),
      exited,
    ]),
  }
  return process_
}

describe('many members behind one address', () => {
  it(`behavior: ${PROCESSES * MEMBERS_PER_PROCESS} members from one non-loopback address, 40 s of messages both ways: every member gets every message`, async () => {
    const namespace = await namespaceBehindOneAddress()
    const relay = track(await startRelayProcess({ listen: [`/ip4/${namespace.host}/tcp/0`, '/ip4/127.0.0.1/tcp/0'] }))
    const overVeth = relay.multiaddrs.find((address) => address.startsWith(`/ip4/${namespace.host}/`))!
    const overLoopback = relay.multiaddrs.find((address) => address.startsWith('/ip4/127.0.0.1/'))!
    const host = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [overLoopback] })
    stoppers.push(host.close)
    const { room, invite } = await host.client.createRoom({ name: 'behind a nat' })
    const hostReceived = new Set<string>()
    room.addEventListener('message:received', ({ detail }) => hostReceived.add(detail.text))

    const processes = Array.from({ length: PROCESSES }, () => startMembers(namespace.name, overVeth, invite))
    await Promise.all(processes.map((p) => p.ready.then(() => undefined)))
    const everyone = PROCESSES * MEMBERS_PER_PROCESS + 1
    await until(
      [[room as unknown as EventTarget, 'member:joined']],
      () => room.members().length >= everyone,
      () => `the host knows ${room.members().length} of ${everyone} members`,
      READY_TIMEOUT_MS,
    )

    // Every fifth message from behind the address (the first member of each process in turn), the rest from the host.
    const texts: Array<{ text: string; from: number | 'host' }> = []
    for (let i = 0; i < MESSAGES; i++) {
      const from = i % 5 === 4 ? ((i - 4) / 5) % PROCESSES : 'host'
      const text = `message ${i}`
      texts.push({ text, from })
      if (from === 'host') await room.send(text)
      else processes[from]!.send(text)
      await new Promise((resolve) => setTimeout(resolve, SEND_GAP_MS))
    }

    const missing = (): string[] => {
      const gaps: string[] = []
      for (const [n, p] of processes.entries()) {
        for (const [member, got] of p.received.entries()) {
          const lacks = texts.filter((t) => !(t.from === n && member === 0) && !got.has(t.text))
          if (lacks.length === 0) continue
          const reasons = [...new Set(p.undecryptable.filter((r) => r.member === member).map((r) => r.reason))]
          gaps.push(
            `process ${n} member ${member} lacks ${lacks.length} (${lacks
              .slice(0, 3)
              .map((t) => `"${t.text}" from ${t.from}`)
              .join(', ')}${reasons.length > 0 ? `; reported unreadable: ${reasons.join(' | ')}` : ''})`,
          )
        }
      }
      const hostLacks = texts.filter((t) => t.from !== 'host' && !hostReceived.has(t.text)).length
      if (hostLacks > 0) gaps.push(`the host lacks ${hostLacks}`)
      return gaps
    }
    await waitFor(
      () => missing().length === 0,
      () => missing().join('; '),
      DELIVERY_TIMEOUT_MS,
    ).catch(async (err: unknown) => {
      // What the relay refused, and its last lines: why a member lacks what it lacks.
      const samples = await metrics(relay).catch(() => new Map<string, number>())
      const refusedCounts = [...samples].filter(
        ([name, value]) => name.startsWith('securechat_refused_total') && value > 0,
      )
      const relayRefusals = `${JSON.stringify(refusedCounts)}; refusal lines ${JSON.stringify(refusalLines(relay).slice(-10))}; log tail ${relay.lines.slice(-15).join(' | ')}`
      throw new Error(`${(err as Error).message}; the relay: ${relayRefusals}`)
    })
    // A member that joined amid fifty may report a message unreadable while its sender's key is still on the way
    // (the sdk waits a bounded time, then says so); the key's arrival opens it. None may stay unread.
    const reports = processes.flatMap((p) => p.undecryptable.map((report) => ({ ...report, read: p.readIds })))
    console.info(`one address: ${reports.length} messages reported unreadable before their key came`)
    expect(
      reports.filter((r) => !r.read[r.member]!.has(r.id)).map(({ member, reason }) => ({ member, reason })),
    ).toEqual([])
  }, 600_000)
})
