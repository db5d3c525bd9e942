/**
 * A relay's HTTP API as its clients meet it: every path and the schema of every answer, written here once. The
 * relay (`node/src/relay/http/`) serves these shapes and imports them from here; the web app reads them through
 * {@link relayApi}. Only zod and `fetch`: the web app's first bundle imports this module.
 *
 *   GET  /config.json              what the web app needs to reach the relay and its chain
 *   GET  /audit/proof?leaf=0x…     the Merkle proof of an anchored message's leaf
 *   POST /audit/leaf-lists         a member's own anchor's leaf list (body: the list as published)
 *
 * Nothing a relay answers is trusted beyond its shape: a proof is checked against the root and the root on chain.
 */
import { z } from 'zod'
import { SecureChatError } from '../errors.ts'
import type { AbortOptions } from '../types.ts'

/** What the web app needs to reach the relay that served it and its chain. */
export const WEB_APP_CONFIG_PATH = '/config.json'
/** The proof of an anchored leaf: `?leaf=0x` and 64 hex digits, nothing else. */
export const AUDIT_PROOF_PATH = '/audit/proof'
/** Where members hand in the leaf lists of their own anchors (`POST`). */
export const LEAF_LISTS_PATH = '/audit/leaf-lists'

/** The whole query of {@link AUDIT_PROOF_PATH}: one leaf hash. */
export const AUDIT_PROOF_QUERY = /^leaf=(0x[0-9a-fA-F]{64})$/

/** Sibling hashes in a proof at most: a tree of 2^64 leaves is more than any batch. */
const MAX_PROOF_DEPTH = 64

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/)
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)

/** `GET /config.json`. */
export const webAppConfigSchema = z.object({
  /** The relay's WebSocket multiaddrs, each ending in `/p2p/<relay PeerId>`. */
  relays: z.array(z.string().startsWith('/')),
  /** Chain of `rpcUrl` (token gates, contract wallets, audit anchors); absent when the relay names none. */
  chainId: z.number().int().positive().optional(),
  /** JSON-RPC endpoint of `chainId`, published to every visitor. */
  rpcUrl: z.url().optional(),
  /** A mainnet endpoint, to show ENS names; none by default. */
  ensRpcUrl: z.url().optional(),
  /** Contracts on that chain, by name. */
  contracts: z.object({ auditLog: address.optional() }).catchall(z.unknown()).default({}),
  /** Loopback and LAN devnets only: browsers refuse private addresses by default. */
  allowPrivateAddresses: z.boolean().default(false),
  /** ICE servers for WebRTC; absent means the browser's defaults. */
  iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]) }).passthrough()).optional(),
})
/** `/config.json` as a client reads it. */
export type WebAppConfig = z.output<typeof webAppConfigSchema>
/** `/config.json` as a relay writes it. */
export type WebAppConfigBody = z.input<typeof webAppConfigSchema>

/** An anchored batch as a relay reports it; the chain is what vouches for it. */
export const anchoredBatchInfoSchema = z.object({
  root: hex32,
  count: z.number().int().positive(),
  cid: z.string().min(1).max(256),
  blockNumber: z.number().int().nonnegative(),
  /** The anchor transaction, when the relay knows it. */
  transactionHash: hex32.optional(),
})
export type AnchoredBatchInfo = z.infer<typeof anchoredBatchInfoSchema>

/** `GET /audit/proof` (200). */
export const anchoredProofSchema = z.object({
  root: hex32,
  /** Sibling hashes from the leaf up to the root (OpenZeppelin's `MerkleProof` order). */
  proof: z.array(hex32).max(MAX_PROOF_DEPTH),
  batch: anchoredBatchInfoSchema,
})
export type AnchoredProof = z.infer<typeof anchoredProofSchema>

/** `POST /audit/leaf-lists` (201 `stored`, 200 `held`: the relay had it already). */
export const leafListReceiptSchema = anchoredBatchInfoSchema.extend({ status: z.enum(['stored', 'held']) })
export type LeafListReceipt = z.infer<typeof leafListReceiptSchema>

/** Why the relay refused a leaf list for good (400, 422, 409). */
export const LeafListRefusal = { malformed: 400, 'not-anchored': 422, 'cid-mismatch': 409 } as const
export type LeafListRefusal = keyof typeof LeafListRefusal

/** Every refusal: `{ error }`, with `reason` for a leaf list's {@link LeafListRefusal}. */
export const relayErrorSchema = z.object({ error: z.string().max(1_000), reason: z.string().max(64).optional() })
export type RelayErrorBody = z.infer<typeof relayErrorSchema>

export type ProofAnswer =
  | { status: 'found'; proof: AnchoredProof }
  /** No anchored batch the relay holds has the leaf (yet). */
  | { status: 'not-found' }
  /** The relay keeps no proofs (501): asking it again is pointless. */
  | { status: 'unsupported' }
  /** The relay answered something that is not a proof. */
  | { status: 'invalid'; reason: string }
  /** The relay could not be asked, or was busy; nothing is known. */
  | { status: 'unavailable'; reason: string }

export type LeafListAnswer =
  | { ok: true; receipt: LeafListReceipt }
  /**
   * `final`: the relay refused these bytes for good (malformed, too large, another CID on chain); `transient`: it
   * cannot take them yet (its RPC a block behind, busy, unreachable) and may later.
   */
  | { ok: false; status: number | undefined; reason: string; final: boolean; transient: boolean }

/** Why a relay's HTTP API could not be used. */
export const RelayApiFailure = {
  /** No answer (network down, relay gone). */
  unreachable: 'unreachable',
  /** An error status. */
  status: 'status',
  /** An answer of the wrong shape. */
  malformed: 'malformed',
} as const
export type RelayApiFailure = (typeof RelayApiFailure)[keyof typeof RelayApiFailure]

/** A relay's HTTP API could not be used; `reason` is what callers branch on. */
export class RelayApiError extends SecureChatError {
  override name = 'RelayApiError'
  readonly reason: RelayApiFailure

  constructor(
    reason: RelayApiFailure,
    message: string,
    options: ConstructorParameters<typeof SecureChatError>[1] = {},
  ) {
    super(message, options)
    this.reason = reason
  }
}

export interface RelayApiInit {
  /** The relay's HTTP origin (a browser passes `location.origin`: the relay that served the page). */
  baseUrl: string | URL
  /** Default: the global `fetch`. */
  fetch?: typeof fetch
}

export interface RelayApi {
  /** `GET /config.json`, parsed. Throws {@link RelayApiError}. */
  config(options?: AbortOptions): Promise<WebAppConfig>
  /** `GET /audit/proof?leaf=`; never throws but for an abort. */
  proof(leafHash: string, options?: AbortOptions): Promise<ProofAnswer>
  /** `POST /audit/leaf-lists`, once; never throws but for an abort. */
  submitLeafList(bytes: Uint8Array, options?: AbortOptions): Promise<LeafListAnswer>
}

/** The one client of a relay's HTTP API. */
export function relayApi(init: RelayApiInit): RelayApi {
  const get = init.fetch ?? ((input, request) => fetch(input, request))
  const url = (path: string): URL => new URL(path, init.baseUrl)
  const signalOf = (options: AbortOptions) => (options.signal === undefined ? {} : { signal: options.signal })
  return {
    async config(options = {}) {
      let response: Response
      let body: unknown
      try {
        response = await get(url(WEB_APP_CONFIG_PATH), { cache: 'no-cache', ...signalOf(options) })
        if (!response.ok) {
          throw new RelayApiError(RelayApiFailure.status, `the relay answered ${response.status}`, {
            details: { status: response.status },
          })
        }
        body = await response.json()
      } catch (cause) {
        options.signal?.throwIfAborted()
        if (cause instanceof RelayApiError) throw cause
        throw new RelayApiError(RelayApiFailure.unreachable, `the relay could not be reached (${String(cause)})`, {
          cause,
        })
      }
      return parseWebAppConfig(body)
    },

    async proof(leafHash, options = {}) {
      let body: unknown
      try {
        const response = await get(url(`${AUDIT_PROOF_PATH}?leaf=${leafHash}`), {
          cache: 'no-store',
          ...signalOf(options),
        })
        if (response.status === 404) return { status: 'not-found' }
        if (response.status === 501) return { status: 'unsupported' }
        if (!response.ok) return { status: 'unavailable', reason: `the relay answered ${response.status}` }
        body = await response.json()
      } catch (err) {
        options.signal?.throwIfAborted()
        return { status: 'unavailable', reason: `the relay could not be asked: ${String(err)}` }
      }
      const parsed = anchoredProofSchema.safeParse(body)
      return parsed.success
        ? { status: 'found', proof: parsed.data }
        : { status: 'invalid', reason: 'the relay answered something that is not a proof' }
    },

    async submitLeafList(bytes, options = {}) {
      let response: Response
      let body: unknown
      try {
        response = await get(url(LEAF_LISTS_PATH), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/json' }),
          cache: 'no-store',
          ...signalOf(options),
        })
        body = await response.json().catch(() => ({}))
      } catch (err) {
        options.signal?.throwIfAborted()
        const reason = `the relay could not be reached (${String(err)})`
        return { ok: false, status: undefined, reason, final: false, transient: true }
      }
      const status = response.status
      if (response.ok) {
        const receipt = leafListReceiptSchema.safeParse(body)
        if (receipt.success) return { ok: true, receipt: receipt.data }
        return {
          ok: false,
          status,
          reason: 'the relay answered something that is not a receipt',
          final: false,
          transient: false,
        }
      }
      const error = relayErrorSchema.safeParse(body)
      return {
        ok: false,
        status,
        reason: error.success ? error.data.error : `the relay answered ${status}`,
        final: status === 400 || status === 409 || status === 413 || status === 415,
        transient: status === 422 || status === 429 || status === 503,
      }
    },
  }
}

/** `/config.json` (or a copy kept from it) checked against {@link webAppConfigSchema}; throws {@link RelayApiError}. */
export function parseWebAppConfig(body: unknown): WebAppConfig {
  const parsed = webAppConfigSchema.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RelayApiError(
      RelayApiFailure.malformed,
      `the relay's ${WEB_APP_CONFIG_PATH} is not usable (${issue?.path.join('.')}): ${issue?.message}`,
      {
        details: { path: issue?.path.join('.') },
      },
    )
  }
  return parsed.data
}
