/**
 * The audit routes: `GET /audit/proof` (the proofs of anchored messages) and `POST /audit/leaf-lists` (members'
 * own anchors' leaf lists). Paths and answer shapes are the sdk's (`@securechat/sdk/relay-api`).
 */
import type { IncomingMessage } from 'node:http'
import {
  AUDIT_PROOF_PATH,
  AUDIT_PROOF_QUERY,
  LEAF_LISTS_PATH,
  type LeafListReceipt,
  LeafListRefusal,
  type RelayErrorBody,
} from '@securechat/sdk/relay-api'
import type { LeafListSubmission } from '../../audit/leaf-list-intake.ts'
import type { ProofSource } from '../../audit/proof-index.ts'
import { HTTP_LEAF_LISTS_IN_FLIGHT, HTTP_REQUEST_TIMEOUT_MS } from '../../constants.ts'
import type { Replies, Route } from './reply.ts'

/** What takes `POST /audit/leaf-lists` (a relay's `LeafListIntake`). */
export interface LeafListTaker {
  /** Largest body taken; more is 413. */
  readonly maxBytes: number
  submit(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<LeafListSubmission>
}

/**
 * `GET /audit/proof?leaf=0x<64 hex digits>`: the Merkle proof of an anchored message's leaf (`leafHashOf`),
 * `{ root, proof, batch: { root, count, cid, blockNumber, transactionHash? } }`, or 404 while it is not
 * anchored (501 from a relay that keeps no proofs). The asker trusts none of it: it checks the proof against
 * the root and the root on chain.
 */
export function proofRoute(init: { proofs: ProofSource | undefined; reply: Replies }): Route {
  const { reply } = init
  return (exchange) => {
    const { raw } = exchange
    const query = raw.slice(raw.indexOf('?') + 1)
    const match = raw.includes('?') ? AUDIT_PROOF_QUERY.exec(query) : null
    if (match === null) return reply.json(exchange, 400, error('expected ?leaf=0x followed by 64 hex digits'))
    if (init.proofs === undefined) return reply.json(exchange, 501, error('this relay does not anchor messages'))
    const proof = init.proofs.proofOf(match[1]!.toLowerCase())
    if (proof === undefined) reply.json(exchange, 404, error('no anchored batch of this relay holds the leaf'))
    else reply.json(exchange, 200, proof)
  }
}

/**
 * `POST /audit/leaf-lists`, body: a leaf list exactly as published (`application/json`, at most the intake's
 * `maxBytes`). Kept only when its root is anchored on chain with these bytes' CID (see `LeafListIntake`): 201
 * stored, 200 already held, 400 not a leaf list, 413 too large, 415 not JSON, 422 root not anchored (yet), 409
 * anchored with another CID, 503 chain unreadable or busy, 501 on a relay without the intake. Refusals before the
 * body is read close the connection.
 */
export function leafListsRoute(init: { intake: LeafListTaker | undefined; reply: Replies }): Route {
  const { reply } = init
  /** Requests being read or checked. */
  let inFlight = 0
  return async (exchange) => {
    const { req, res, raw } = exchange
    if (req.method !== 'POST') return reply.text(exchange, 405, 'method not allowed\n', { Allow: 'POST' })
    if (raw !== LEAF_LISTS_PATH) return reply.jsonClose(exchange, 400, error('no query expected'))
    const intake = init.intake
    if (intake === undefined) return reply.jsonClose(exchange, 501, error('this relay does not take leaf lists'))
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase()
    if (type !== 'application/json') {
      return reply.jsonClose(exchange, 415, error('send the leaf list as application/json'))
    }
    const tooLarge = error(`a leaf list holds at most ${intake.maxBytes} bytes`)
    const declared = Number(req.headers['content-length'] ?? Number.NaN)
    if (declared > intake.maxBytes) return reply.jsonClose(exchange, 413, tooLarge)
    if (inFlight >= HTTP_LEAF_LISTS_IN_FLIGHT) {
      res.setHeader('Retry-After', '1')
      return reply.jsonClose(exchange, 503, error('busy checking other leaf lists; try again'))
    }
    inFlight += 1
    try {
      const body = await readBody(req, intake.maxBytes)
      if (body === 'gone') return void res.destroy()
      if (body === 'too-large') return reply.jsonClose(exchange, 413, tooLarge)
      const result = await intake.submit(body, { signal: AbortSignal.timeout(HTTP_REQUEST_TIMEOUT_MS) })
      if (result.status === 'accepted') {
        const receipt: LeafListReceipt = { status: result.stored ? 'stored' : 'held', ...result.batch }
        return reply.json(exchange, result.stored ? 201 : 200, receipt)
      }
      if (result.status === 'unavailable') {
        res.setHeader('Retry-After', '2')
        return reply.json(exchange, 503, error(result.message))
      }
      return reply.json(exchange, LeafListRefusal[result.reason], { error: result.message, reason: result.reason })
    } finally {
      inFlight -= 1
    }
  }
}

/** The audit routes by path. */
export function auditRoutes(init: {
  proofs: ProofSource | undefined
  leafLists: LeafListTaker | undefined
  reply: Replies
}): Record<string, Route> {
  return {
    [AUDIT_PROOF_PATH]: proofRoute({ proofs: init.proofs, reply: init.reply }),
    [LEAF_LISTS_PATH]: leafListsRoute({ intake: init.leafLists, reply: init.reply }),
  }
}

function error(message: string): RelayErrorBody {
  return { error: message }
}

/**
 * The request's body; `too-large` as soon as it passes `maxBytes` (the rest is discarded unread: the caller's
 * answer closes the connection), `gone` when the client went away first.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | 'too-large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      if (size > maxBytes) return
      size += chunk.byteLength
      if (size > maxBytes) resolve('too-large')
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('close', () => resolve('gone'))
  })
}
