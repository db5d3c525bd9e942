/**
 * Ten sybil peers flood a room through a real `securechat relay` process with its default scoring and limits (issue
 * 13): bare js-libp2p peers, no SecureChat client, publishing as fast as the relay reads them, while an honest member
 * sends 200 paced messages (test/helpers/sybil-flood.ts). Every honest message arrives; the relay and the members stay
 * up; `/metrics` says why the flooders were stopped; the relay's log names each flooder once per reason, not once per
 * record. Two floods, each its own test:
 *
 * - records that fail validation: every flooder ends below the graylist threshold (or disconnected);
 * - valid records from ten devices of one signed-in wallet, far above a person's rate: the relay reads each flooder no
 *   faster than it handles its records (the rest waits on the flooder's side of the connection), and its ten devices
 *   no faster than one (they share their wallet's records in flight), so it keeps up, and bans every flooder —
 *   disconnects it and refuses it — while it still floods.
 */
import { describe, expect, it } from 'vitest'
import {
  RELAY_RECORD_FLOOD_BAN_AFTER_MS,
  RELAY_RECORD_WALLET_FACTOR,
  RELAY_RECORDS_PER_SECOND,
} from '../node/src/constants.ts'
import { runSybilFlood } from './helpers/sybil-flood.ts'

const SYBILS = 10
const HONEST_MESSAGES = 200
/** 20 honest messages a second asked for: past its burst the sdk paces a device at `SEND_RECORDS_PER_SECOND`. */
const HONEST_PACE_MS = 50
/** Each wait of the run; generous for a loaded 2-core machine, never a speed check. */
const TIMEOUT_MS = 90_000
/** Records each flooder sent at least: far past the few that graylist it. */
const MIN_RECORDS_PER_FLOODER = 100
/** Log lines a flooder may cost per reason: its own, and one more if a refusal log interval ends mid-flood. */
const LINES_PER_OFFENDER_AND_REASON = 2
/** Honest messages in the valid flood: 5 a second, the sdk's pace (`SEND_RECORDS_PER_SECOND`), half a person's rate. */
const HONEST_PACE_IN_VALID_FLOOD_MS = 200

describe('sybil flood', () => {
  it('behavior: 10 sybils flooding invalid records are graylisted, counted and logged boundedly; every honest message arrives', async () => {
    const result = await runSybilFlood({
      floods: ['invalid'],
      sybils: SYBILS,
      messages: HONEST_MESSAGES,
      paceMs: HONEST_PACE_MS,
      timeoutMs: TIMEOUT_MS,
    })
    const { invalid } = result.phases
    if (invalid === undefined) throw new Error('the flood did not run')

    // Honest delivery ≥ 99.9% of 200: all of them; the relay and the members came through.
    expect(result.received).toBe(HONEST_MESSAGES)
    expect(result.relayAlive).toBe(true)
    expect(result.healthz).toBe(200)
    expect(result.membersConnected).toBe(true)
    expect(result.afterFloodDelivered).toBe(true)

    // A flood, not a trickle: each flooder went on long after the relay stopped listening to it.
    expect(Object.keys(invalid.sent)).toHaveLength(SYBILS)
    for (const count of Object.values(invalid.sent)) expect(count).toBeGreaterThan(MIN_RECORDS_PER_FLOODER)

    // Why they were stopped, from /metrics: their records rejected, and every flooder graylisted while connected (or
    // disconnected by the relay).
    expect(result.graylistedDuringInvalid + invalid.cutOff.length).toBeGreaterThanOrEqual(SYBILS)
    const rejected = result.metrics.get('securechat_refused_total{reason="invalid-record"}') ?? 0
    expect(rejected).toBeGreaterThanOrEqual(SYBILS)
    const sent = Object.values(invalid.sent).reduce((sum, n) => sum + n, 0)
    expect(rejected).toBeLessThan(sent)

    // Bounded logs: one line per flooder (two if a refusal log interval ended mid-flood), plus summaries and each
    // flooder's subscription — though thousands of records were rejected. Only flooders are named.
    const refusals = result.relayLines
      .filter((line) => line.includes('"event":"limit:refused"'))
      .map((line) => JSON.parse(line) as { reason: string; offender: string })
    expect(new Set(refusals.map(({ reason }) => reason))).toEqual(new Set(['invalid-record']))
    const perOffender = new Map<string, number>()
    for (const { offender } of refusals) perOffender.set(offender, (perOffender.get(offender) ?? 0) + 1)
    expect(new Set(perOffender.keys())).toEqual(new Set(invalid.peers))
    expect(Math.max(...perOffender.values())).toBeLessThanOrEqual(LINES_PER_OFFENDER_AND_REASON)
    expect(result.relayLines.length).toBeLessThanOrEqual(SYBILS * (LINES_PER_OFFENDER_AND_REASON + 2) + 10)
    expect(result.relayLines.length).toBeLessThan(rejected)
  }, 300_000)

  it('behavior: 10 devices of one wallet flooding valid records are read no faster than handled and banned while they flood; every honest message arrives', async () => {
    const result = await runSybilFlood({
      floods: ['valid'],
      sybils: SYBILS,
      messages: HONEST_MESSAGES,
      paceMs: HONEST_PACE_IN_VALID_FLOOD_MS,
      timeoutMs: TIMEOUT_MS,
    })
    const { valid } = result.phases
    if (valid === undefined) throw new Error('the flood did not run')

    // Honest delivery ≥ 99.9% of 200: all of them; the relay and the members came through.
    expect(result.received).toBe(HONEST_MESSAGES)
    expect(result.relayAlive).toBe(true)
    expect(result.healthz).toBe(200)
    expect(result.membersConnected).toBe(true)
    expect(result.afterFloodDelivered).toBe(true)

    // Far above a person's rate: the relay dropped more records over the rate than the whole wallet (twice a person's
    // rate) may send in the ban delay, twice over.
    const walletAllowance =
      RELAY_RECORD_WALLET_FACTOR * RELAY_RECORDS_PER_SECOND * (RELAY_RECORD_FLOOD_BAN_AFTER_MS / 1000)
    const overRate = result.metrics.get('securechat_refused_total{reason="records-per-second"}') ?? 0
    expect(Object.keys(valid.sent)).toHaveLength(SYBILS)
    expect(overRate).toBeGreaterThan(2 * walletAllowance)

    // Every flooder was cut off by the relay while it flooded (a flooder sends until then), and /metrics says why:
    // their records over the rate dropped (above), each of them banned as a flooder, and the relay stopped reading them
    // while their records were being handled.
    expect(new Set(valid.cutOff)).toEqual(new Set(valid.peers))
    expect(result.metrics.get('securechat_refused_total{reason="record-flood"}') ?? 0).toBeGreaterThanOrEqual(SYBILS)
    expect(result.metrics.get('securechat_relay_read_pauses_total') ?? 0).toBeGreaterThan(0)

    // Bounded logs: the relay names each flooder once per reason (twice if a log interval ended mid-flood).
    const refusals = result.relayLines
      .filter((line) => line.includes('"event":"limit:refused"'))
      .map((line) => JSON.parse(line) as { reason: string; offender: string })
    const perOffender = new Map<string, number>()
    for (const { reason, offender } of refusals) {
      perOffender.set(`${reason} ${offender}`, (perOffender.get(`${reason} ${offender}`) ?? 0) + 1)
    }
    expect(refusals.filter(({ offender }) => !valid.peers.includes(offender))).toEqual([])
    expect(new Set(refusals.map(({ offender }) => offender))).toEqual(new Set(valid.peers))
    expect(Math.max(...perOffender.values())).toBeLessThanOrEqual(LINES_PER_OFFENDER_AND_REASON)
  }, 300_000)
})
