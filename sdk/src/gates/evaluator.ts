import { getAddress, Interface, id as keccakText, type Provider } from 'ethers'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { raceSignal } from '../async.ts'
import { evictOldest } from '../bounded-map.ts'
import { GateUnavailableError, InvalidInputError } from '../errors.ts'
import { type LoggerFactory, silentLoggerFactory } from '../logger.ts'
import type { AbortOptions, Address } from '../types.ts'
import {
  GATE_CACHE_TTL_MS,
  GATE_HEAD_READ_INTERVAL_MS,
  GATE_MAX_CACHED_RESULTS,
  GATE_MAX_LOG_BLOCK_RANGE,
  GATE_POLL_INTERVAL_MS,
  GATE_RPC_TIMEOUT_MS,
  GATE_WATCH_IDLE_MS,
} from './constants.ts'
import {
  amountOf,
  combineGateRule,
  conditionsOf,
  describeGateRule,
  formatAmount,
  type GateRule,
  gateRuleKey,
  type TokenInfo,
  type TokenRule,
  tokenLabel,
} from './rule.ts'

export type GateStatus = 'eligible' | 'ineligible' | 'unknown'

/** What one address holds of one token condition, read at the result's block. */
export interface GateHolding {
  condition: TokenRule
  /** `undefined` when the chain could not be asked. */
  balance: bigint | undefined
  token: TokenInfo
}

export interface GateResult {
  /** `unknown` when the chain could not be asked and nothing definite is known: not admitted. */
  status: GateStatus
  address: Address
  rule: GateRule
  /** Block whose state the balances were read at. */
  blockNumber: number | undefined
  /** One entry per token condition, in {@link conditionsOf} order. */
  holdings: GateHolding[]
  checkedAtMs: number
  /** Set when this is the last definite result, returned because the chain cannot be asked now. */
  stale: boolean
  /** Why the chain could not be asked (with `status: 'unknown'`, or with `stale`). */
  error: GateUnavailableError | undefined
}

export interface EligibilityChange {
  address: Address
  rule: GateRule
  /** {@link gateRuleKey} of `rule`, to match a room's rule. */
  ruleKey: string
  result: GateResult
}

/** What an evaluator asked the chain so far: what a relay's `/metrics` shows and the cost a test can bound. */
export interface GateReadStats {
  /** Reads of the chain's head (`eth_blockNumber`). */
  heads: number
  /** `eth_getLogs` calls for Transfer logs (at most one per new head, for every watched contract at once). */
  logs: number
  /** Balance reads (`balanceOf`, `ownerOf`): one per condition of a verdict read. */
  balances: number
}

export interface FollowOptions extends AbortOptions {
  /**
   * The record being judged did not just arrive: it was held back or fetched from a store, one of several worked
   * through one after another. A head read that started at most `headReadIntervalMs` before the call is new
   * enough, so they share reads instead of each waiting for its own.
   */
  deferred?: boolean
}

export interface GateEvaluatorEvents {
  /** An address that failed the rule now passes it. */
  'member:eligible': CustomEvent<EligibilityChange>
  /** An address that passed the rule no longer does (sold, transferred, burned). */
  'member:ineligible': CustomEvent<EligibilityChange>
  /** The chain stopped answering (once per outage): nobody new is admitted until it answers. */
  'gate:unavailable': CustomEvent<GateUnavailableError>
  /** The chain answers again after an outage. */
  'gate:available': CustomEvent<{ chainId: number | undefined }>
}

/**
 * Reads token gates from the chain (docs/architecture.md, Token gates): balances at a recent block, results
 * cached per (address, rule), members re-checked when the chain moves, and fail-closed when the
 * RPC endpoint fails.
 */
export interface GateEvaluator extends TypedEventTarget<GateEvaluatorEvents> {
  /** Starts re-checking members when the chain moves. Idempotent. */
  start(): void
  /** Stops every timer; results stay cached. Idempotent. */
  stop(): void
  /**
   * Reads `rule` for `address` at the latest block (or answers from the cache). Never throws for
   * chain trouble: the result is `unknown` (or the last definite one, `stale`) with `error` set.
   * Rejects only when `options.signal` aborts.
   */
  evaluate(rule: GateRule, address: string, options?: AbortOptions): Promise<GateResult>
  /** `evaluate(…).status === 'eligible'`: unknown counts as not eligible (fail closed). */
  isEligible(rule: GateRule, address: string, options?: AbortOptions): Promise<boolean>
  /**
   * What is known without asking the chain: a fresh cached verdict; for a verified member whose
   * verdict went stale while the chain cannot be asked, still `eligible`. Otherwise `undefined`.
   */
  check(rule: GateRule, address: string): Exclude<GateStatus, 'unknown'> | undefined
  /** Re-check `address` proactively while it keeps being seen ({@link GATE_WATCH_IDLE_MS}). */
  watch(rule: GateRule, address: string): void
  unwatch(rule: GateRule, address: string): void
  /** The rule in words, with token names read from the chain when it answers. */
  describe(rule: GateRule, options?: AbortOptions): Promise<string>
  /** Metadata of a token on this evaluator's chain (cached; empty when the chain cannot tell). */
  tokenInfo(contract: string, options?: AbortOptions): Promise<TokenInfo>
  /**
   * Follows the chain to a head read after this call (the Transfer logs up to it applied, the verdicts of the
   * wallets they name stale) and resolves with that head: a verdict {@link check} gives afterwards is as new as
   * the endpoint's head was when this was called. This is what makes a record that arrives after the endpoint
   * serves a transfer's block be judged at that block or later. One read serves every call made before it
   * started; reads are at least {@link GATE_HEAD_READ_INTERVAL_MS} apart while the evaluator is started. While
   * the chain is not answering it resolves at once with the last head seen (verified members stay, nobody new
   * is admitted). With `deferred`, a read that started at most {@link GATE_HEAD_READ_INTERVAL_MS} before the
   * call does too. Rejects only when `options.signal` aborts.
   */
  follow(options?: FollowOptions): Promise<number | undefined>
  /** The newest block this evaluator followed the chain to (its Transfer logs applied); undefined before the first. */
  readonly head: number | undefined
  /** What it asked the chain since it was made. */
  stats(): GateReadStats
  /** The current outage, if the chain is not answering. */
  readonly unavailable: GateUnavailableError | undefined
}

export interface GateEvaluatorComponents {
  /** JSON-RPC provider of the chain the rules read. Rules naming another chain are `unknown`. */
  provider: Provider
  logger?: LoggerFactory
}

export interface GateEvaluatorInit {
  /** See {@link GATE_CACHE_TTL_MS}. */
  cacheTtlMs?: number
  /** See {@link GATE_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number
  /** See {@link GATE_HEAD_READ_INTERVAL_MS}; 0 reads the head for every record that finds no read to wait for. */
  headReadIntervalMs?: number
  /** See {@link GATE_RPC_TIMEOUT_MS}. */
  rpcTimeoutMs?: number
  /** See {@link GATE_WATCH_IDLE_MS}. */
  watchIdleMs?: number
  /** See {@link GATE_MAX_CACHED_RESULTS}. */
  maxCachedResults?: number
  /** See {@link GATE_MAX_LOG_BLOCK_RANGE}. */
  maxLogBlockRange?: number
  /** Clock, for tests. */
  now?: () => number
}

/**
 * The evaluator a client or relay uses: the one it was given, else one over its provider (which
 * it then owns: starts and stops), else none (gated rooms admit nobody).
 */
export function resolveGateEvaluator(params: {
  gates?: GateEvaluator | undefined
  provider?: Provider | undefined
  logger?: LoggerFactory | undefined
  /** Settings of the evaluator made over `provider` (none apply to one given in `gates`). */
  gateEvaluator?: GateEvaluatorInit | undefined
}): { gates: GateEvaluator | undefined; owned: boolean } {
  if (params.gates !== undefined) return { gates: params.gates, owned: false }
  if (params.provider === undefined) return { gates: undefined, owned: false }
  const components = { provider: params.provider, ...(params.logger === undefined ? {} : { logger: params.logger }) }
  return { gates: gateEvaluator(params.gateEvaluator)(components), owned: true }
}

/** A component factory, as libp2p's: `gateEvaluator(init)({ provider, logger })`. */
export function gateEvaluator(init: GateEvaluatorInit = {}): (components: GateEvaluatorComponents) => GateEvaluator {
  return (components) => new ChainGateEvaluator(components, init)
}

/**
 * `this room requires 1 × SecureChat Member (0x…) on chain 31337; 0x… holds 0`: what a user sees
 * when they do not pass (and, for an unknown result, why nobody can tell).
 */
export function explainGateResult(result: GateResult): string {
  const tokens = new Map(result.holdings.map((h) => [getAddress(h.condition.contract), h.token]))
  const requires = `this room requires ${describeGateRule(result.rule, { tokens })}`
  if (result.status === 'unknown') {
    return `${requires}; it cannot be checked now: ${result.error?.message ?? 'the chain did not answer'}`
  }
  const single = result.holdings.length === 1
  const held = result.holdings.map(({ condition, balance, token }) => {
    if (single) return balance === undefined ? 'an unknown amount' : formatAmount(condition, balance, token)
    if (balance === undefined) return `an unknown amount of ${tokenLabel(condition, token)}`
    if (condition.type === 'erc721' && condition.tokenId !== undefined) {
      return `${balance > 0n ? '' : 'not '}${amountOf(condition, balance, token)}`
    }
    return amountOf(condition, balance, token)
  })
  return `${requires}; ${result.address} holds ${held.join(', ')}`
}

/** Calls `listener` when `address`'s eligibility for `rule` changes. Returns the unsubscribe function. */
export function onEligibilityChange(
  evaluator: GateEvaluator,
  rule: GateRule,
  listener: (change: EligibilityChange & { eligible: boolean }) => void,
): () => void {
  const key = gateRuleKey(rule)
  const onEligible = (event: CustomEvent<EligibilityChange>): void => {
    if (event.detail.ruleKey === key) listener({ ...event.detail, eligible: true })
  }
  const onIneligible = (event: CustomEvent<EligibilityChange>): void => {
    if (event.detail.ruleKey === key) listener({ ...event.detail, eligible: false })
  }
  evaluator.addEventListener('member:eligible', onEligible)
  evaluator.addEventListener('member:ineligible', onIneligible)
  return () => {
    evaluator.removeEventListener('member:eligible', onEligible)
    evaluator.removeEventListener('member:ineligible', onIneligible)
  }
}

const TRANSFER_TOPIC = keccakText('Transfer(address,address,uint256)')
const TRANSFER_SINGLE_TOPIC = keccakText('TransferSingle(address,address,address,uint256,uint256)')
const TRANSFER_BATCH_TOPIC = keccakText('TransferBatch(address,address,address,uint256[],uint256[])')
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

const erc20or721 = new Interface([
  'function balanceOf(address owner) view returns (uint256)',
  'function ownerOf(uint256 tokenId) view returns (address)',
])
const erc1155 = new Interface(['function balanceOf(address account, uint256 id) view returns (uint256)'])
const metadata = new Interface([
  'function name() view returns (string)',
  'function symbol() view returns (string)',
  'function decimals() view returns (uint8)',
])

interface Verdict {
  result: GateResult
  /** Set when the chain moved under this verdict (a Transfer log named the address). */
  stale: boolean
}

interface Inflight {
  promise: Promise<GateResult>
  address: Address
  /** A Transfer log named the address while the balances were being read. */
  invalidated: boolean
}

interface Sync {
  promise: Promise<number>
  startedMs: number
  /** Syncs are numbered as they start: a record waits for one numbered after the last started when it arrived. */
  generation: number
}

interface Watch {
  rule: GateRule
  address: Address
  lastSeenMs: number
}

/** Reads through one ethers Provider; see {@link GateEvaluator}. */
class ChainGateEvaluator extends TypedEventEmitter<GateEvaluatorEvents> implements GateEvaluator {
  readonly #provider: Provider
  readonly #log
  readonly #cacheTtlMs: number
  readonly #pollIntervalMs: number
  readonly #headReadIntervalMs: number
  readonly #rpcTimeoutMs: number
  readonly #watchIdleMs: number
  readonly #maxCached: number
  readonly #maxLogRange: number
  readonly #now: () => number
  readonly #verdicts = new Map<string, Verdict>()
  readonly #keysByAddress = new Map<Address, Set<string>>()
  readonly #inflight = new Map<string, Inflight>()
  readonly #watched = new Map<string, Watch>()
  readonly #rules = new Map<string, { rule: GateRule; contracts: string[] }>()
  /** Rule objects are reused (a room keeps its manifest): remember their keys. */
  readonly #ruleKeys = new WeakMap<GateRule, string>()
  readonly #tokens = new Map<string, Promise<TokenInfo>>()
  readonly #checksums = new Map<string, Address>()
  #chainId: number | undefined
  #lastBlock: number | undefined
  #syncing: Sync | undefined
  #syncGeneration = 0
  #lastSyncStartMs = Number.NEGATIVE_INFINITY
  /** When the newest sync that succeeded started: {@link head} is at least as new as the endpoint's head then. */
  #followedAtMs = Number.NEGATIVE_INFINITY
  /** The one timer that spaces head reads ({@link GATE_HEAD_READ_INTERVAL_MS}); every waiting record shares it. */
  #spacer: { promise: Promise<void>; timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined
  readonly #reads: GateReadStats = { heads: 0, logs: 0, balances: 0 }
  #outage: GateUnavailableError | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #ticking = false

  constructor(components: GateEvaluatorComponents, init: GateEvaluatorInit) {
    super()
    this.#provider = components.provider
    this.#log = (components.logger ?? silentLoggerFactory)('securechat:sdk:gates')
    this.#cacheTtlMs = init.cacheTtlMs ?? GATE_CACHE_TTL_MS
    this.#pollIntervalMs = init.pollIntervalMs ?? GATE_POLL_INTERVAL_MS
    this.#headReadIntervalMs = init.headReadIntervalMs ?? GATE_HEAD_READ_INTERVAL_MS
    this.#rpcTimeoutMs = init.rpcTimeoutMs ?? GATE_RPC_TIMEOUT_MS
    this.#watchIdleMs = init.watchIdleMs ?? GATE_WATCH_IDLE_MS
    this.#maxCached = init.maxCachedResults ?? GATE_MAX_CACHED_RESULTS
    this.#maxLogRange = init.maxLogBlockRange ?? GATE_MAX_LOG_BLOCK_RANGE
    this.#now = init.now ?? Date.now
    for (const [name, value] of Object.entries({
      cacheTtlMs: this.#cacheTtlMs,
      pollIntervalMs: this.#pollIntervalMs,
      rpcTimeoutMs: this.#rpcTimeoutMs,
      maxLogBlockRange: this.#maxLogRange,
    })) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new InvalidInputError(`gateEvaluator: ${name} must be a positive number, got ${value}`)
      }
    }
    if (!Number.isFinite(this.#headReadIntervalMs) || this.#headReadIntervalMs < 0) {
      throw new InvalidInputError(
        `gateEvaluator: headReadIntervalMs must be a number ≥ 0, got ${this.#headReadIntervalMs}`,
      )
    }
  }

  get head(): number | undefined {
    return this.#lastBlock
  }

  stats(): GateReadStats {
    return { ...this.#reads }
  }

  get unavailable(): GateUnavailableError | undefined {
    return this.#outage
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.#tick(), this.#pollIntervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    // Records waiting for the spacing go on at once (a stopped evaluator does not space its reads).
    this.#endSpacing()
  }

  async follow(options: FollowOptions = {}): Promise<number | undefined> {
    options.signal?.throwIfAborted()
    if (options.deferred === true && this.#followedAtMs >= this.#now() - this.#headReadIntervalMs) {
      return this.#lastBlock
    }
    if (this.#outage !== undefined) {
      // Records do not wait for an endpoint that is down: they are judged by what is known (verified members
      // stay), and a read, spaced like the others, finds out whether the chain answers again.
      if (this.#now() - this.#lastSyncStartMs >= this.#headReadIntervalMs) {
        this.#sync().then(
          () => this.#noteAvailable(),
          () => undefined,
        )
      }
      return this.#lastBlock
    }
    try {
      const head = await raceSignal(this.#syncAfter(this.#syncGeneration), options.signal)
      this.#noteAvailable()
      return head
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      this.#reportUnavailable(toUnavailable(err, this.#chainId))
      return this.#lastBlock
    }
  }

  check(rule: GateRule, address: string): Exclude<GateStatus, 'unknown'> | undefined {
    const verdict = this.#verdicts.get(this.#key(rule, address))
    if (verdict === undefined) return undefined
    const { status } = verdict.result
    if (status === 'unknown') return undefined
    if (!verdict.stale && this.#now() - verdict.result.checkedAtMs < this.#cacheTtlMs) return status
    // Verified members stay until a definite negative: an outage is not one.
    if (status === 'eligible' && this.#outage !== undefined) return status
    return undefined
  }

  watch(rule: GateRule, address: string): void {
    const checksummed = this.#checksum(address)
    const key = this.#key(rule, checksummed)
    const watched = this.#watched.get(key)
    if (watched !== undefined) {
      watched.lastSeenMs = this.#now()
      return
    }
    this.#watched.set(key, { rule, address: checksummed, lastSeenMs: this.#now() })
    evictOldest(this.#watched, this.#maxCached)
  }

  unwatch(rule: GateRule, address: string): void {
    this.#watched.delete(this.#key(rule, address))
  }

  async isEligible(rule: GateRule, address: string, options: AbortOptions = {}): Promise<boolean> {
    return (await this.evaluate(rule, address, options)).status === 'eligible'
  }

  async evaluate(rule: GateRule, address: string, options: AbortOptions = {}): Promise<GateResult> {
    options.signal?.throwIfAborted()
    const checksummed = this.#checksum(address)
    const key = this.#key(rule, checksummed)
    const known = this.#verdicts.get(key)
    // Only a fresh verdict saves the read; a stale one is what the read falls back to.
    if (known !== undefined && !known.stale && this.#now() - known.result.checkedAtMs < this.#cacheTtlMs) {
      return known.result
    }
    let inflight = this.#inflight.get(key)
    if (inflight === undefined) {
      const entry: Inflight = { promise: Promise.resolve(undefined as never), address: checksummed, invalidated: false }
      entry.promise = this.#evaluateFresh(key, rule, checksummed, entry).finally(() => {
        if (this.#inflight.get(key) === entry) this.#inflight.delete(key)
      })
      this.#inflight.set(key, entry)
      inflight = entry
    }
    return raceSignal(inflight.promise, options.signal)
  }

  async describe(rule: GateRule, options: AbortOptions = {}): Promise<string> {
    const contracts = [...new Set(conditionsOf(rule).map((c) => getAddress(c.contract)))]
    const infos = await Promise.all(contracts.map((contract) => this.tokenInfo(contract, options)))
    return describeGateRule(rule, { tokens: new Map(contracts.map((contract, i) => [contract, infos[i]!])) })
  }

  tokenInfo(contract: string, options: AbortOptions = {}): Promise<TokenInfo> {
    const address = getAddress(contract)
    let info = this.#tokens.get(address)
    if (info === undefined) {
      info = this.#readTokenInfo(address)
      this.#tokens.set(address, info)
      evictOldest(this.#tokens, this.#maxCached)
    }
    return raceSignal(info, options.signal)
  }

  // --- reading the chain ---

  async #evaluateFresh(key: string, rule: GateRule, address: Address, inflight: Inflight): Promise<GateResult> {
    // A Transfer log that names the address while its balances are read means the read may be
    // from before the transfer: read again (at most twice), so one token never admits two wallets.
    for (let attempt = 0; ; attempt++) {
      inflight.invalidated = false
      let result: GateResult
      try {
        result = await this.#read(rule, address)
      } catch (err) {
        return this.#fallback(key, rule, address, toUnavailable(err, this.#chainId))
      }
      if (result.status === 'unknown') return this.#fallback(key, rule, address, result.error!, result)
      this.#noteAvailable()
      if (inflight.invalidated && attempt < 2) continue
      this.#store(key, rule, result, inflight.invalidated)
      return result
    }
  }

  async #read(rule: GateRule, address: Address): Promise<GateResult> {
    const conditions = conditionsOf(rule)
    const chainId = await this.#providerChainId()
    const foreign = conditions.find((c) => c.chainId !== chainId)
    if (foreign !== undefined) {
      throw new GateUnavailableError(
        `the room's rule reads chain ${foreign.chainId}, but the RPC endpoint serves chain ${chainId}`,
        {
          details: { ruleChainId: foreign.chainId, rpcChainId: chainId },
          hint: `pass --rpc with an endpoint of chain ${foreign.chainId}`,
        },
      )
    }
    const blockNumber = await this.#sync()
    const reads = await Promise.all(
      conditions.map(async (condition) => {
        const [balance, token] = await Promise.all([
          this.#balanceOf(condition, address, blockNumber).then(
            (value) => ({ value, error: undefined }),
            (error: unknown) => ({ value: undefined, error: toUnavailable(error, chainId) }),
          ),
          this.tokenInfo(condition.contract),
        ])
        return { condition, balance, token }
      }),
    )
    const holdings: GateHolding[] = reads.map(({ condition, balance, token }) => ({
      condition,
      balance: balance.value,
      token,
    }))
    const byCondition = new Map(holdings.map((h) => [h.condition, h.balance]))
    const passes = combineGateRule(rule, (condition) => {
      const balance = byCondition.get(condition)
      return balance === undefined ? undefined : balance >= BigInt(condition.minBalance)
    })
    const error = reads.find((r) => r.balance.error !== undefined)?.balance.error
    return {
      status: passes === undefined ? 'unknown' : passes ? 'eligible' : 'ineligible',
      address,
      rule,
      blockNumber,
      holdings,
      checkedAtMs: this.#now(),
      stale: false,
      error: passes === undefined ? error : undefined,
    }
  }

  async #balanceOf(condition: TokenRule, address: Address, blockTag: number): Promise<bigint> {
    const to = getAddress(condition.contract)
    this.#reads.balances += 1
    if (condition.type === 'erc721' && condition.tokenId !== undefined) {
      const data = erc20or721.encodeFunctionData('ownerOf', [BigInt(condition.tokenId)])
      let raw: string
      try {
        raw = await this.#rpc(() => this.#provider.call({ to, data, blockTag }))
      } catch (err) {
        // ownerOf reverts for a token that does not exist (never minted, or burned): nobody holds it.
        if (isRevert(err)) return 0n
        throw err
      }
      const [owner] = this.#decode(erc20or721, 'ownerOf', raw, condition)
      return getAddress(String(owner)) === address ? 1n : 0n
    }
    const data =
      condition.type === 'erc1155'
        ? erc1155.encodeFunctionData('balanceOf', [address, BigInt(condition.tokenId)])
        : erc20or721.encodeFunctionData('balanceOf', [address])
    let raw: string
    try {
      raw = await this.#rpc(() => this.#provider.call({ to, data, blockTag }))
    } catch (err) {
      if (!isRevert(err)) throw err
      throw new GateUnavailableError(`${to} on chain ${condition.chainId} reverted balanceOf`, {
        details: { contract: to, type: condition.type },
        hint: `is it an ${condition.type.toUpperCase()} contract on chain ${condition.chainId}? The room's rule may be wrong`,
        cause: err,
      })
    }
    const [balance] = this.#decode(condition.type === 'erc1155' ? erc1155 : erc20or721, 'balanceOf', raw, condition)
    return BigInt(balance as bigint)
  }

  #decode(iface: Interface, fn: string, raw: string, condition: TokenRule): unknown[] {
    if (raw === '0x') {
      throw new GateUnavailableError(`there is no contract at ${condition.contract} on chain ${condition.chainId}`, {
        details: { contract: condition.contract },
        hint: 'check the room rule’s contract address, and that --rpc serves the chain it names',
      })
    }
    try {
      return [...iface.decodeFunctionResult(fn, raw)]
    } catch (cause) {
      throw new GateUnavailableError(`${condition.contract} answered ${fn} with something that is not a number`, {
        details: { contract: condition.contract },
        hint: `is it an ${condition.type.toUpperCase()} contract?`,
        cause,
      })
    }
  }

  async #readTokenInfo(contract: string): Promise<TokenInfo> {
    const read = async (fn: 'name' | 'symbol' | 'decimals'): Promise<unknown> => {
      try {
        const raw = await this.#rpc(() =>
          this.#provider.call({ to: contract, data: metadata.encodeFunctionData(fn, []) }),
        )
        return raw === '0x' ? undefined : metadata.decodeFunctionResult(fn, raw)[0]
      } catch (err) {
        if (isRevert(err) || (err as { code?: string }).code === 'BAD_DATA') return undefined
        throw err
      }
    }
    try {
      const [name, symbol, decimals] = await Promise.all([read('name'), read('symbol'), read('decimals')])
      const info: TokenInfo = {}
      if (typeof name === 'string' && name !== '') info.name = name
      if (typeof symbol === 'string' && symbol !== '') info.symbol = symbol
      if (decimals !== undefined) info.decimals = Number(decimals)
      return info
    } catch {
      // The chain did not answer: forget this attempt so the next one asks again.
      this.#tokens.delete(contract)
      return {}
    }
  }

  /**
   * The chain the endpoint really serves: `eth_chainId` when the provider speaks JSON-RPC (a
   * provider configured with a static network would otherwise just repeat its configuration).
   */
  async #providerChainId(): Promise<number> {
    if (this.#chainId === undefined) {
      const provider = this.#provider as Provider & { send?: (method: string, params: unknown[]) => Promise<unknown> }
      const send = provider.send
      const chainId =
        typeof send === 'function'
          ? await this.#rpc(() => send.call(provider, 'eth_chainId', []))
          : (await this.#rpc(() => provider.getNetwork())).chainId
      this.#chainId = Number(BigInt(chainId as string | bigint))
    }
    return this.#chainId
  }

  /**
   * Brings the evaluator to the chain's head: reads the Transfer logs of every contract a cached
   * verdict depends on since the last block seen, marks the verdicts of the addresses they name
   * stale, and returns the head. One sync at a time; concurrent callers share it.
   */
  #sync(): Promise<number> {
    if (this.#syncing === undefined) {
      const startedMs = this.#now()
      const sync: Sync = { promise: Promise.resolve(0), startedMs, generation: ++this.#syncGeneration }
      this.#lastSyncStartMs = startedMs
      sync.promise = this.#runSync()
        .then((head) => {
          this.#followedAtMs = Math.max(this.#followedAtMs, startedMs)
          return head
        })
        .finally(() => {
          if (this.#syncing === sync) this.#syncing = undefined
        })
      this.#syncing = sync
      // Records waiting out the spacing may use this one (a poll's, an evaluation's): it started after them.
      this.#endSpacing()
    }
    return this.#syncing.promise
  }

  /** The head of the first sync numbered after `generation`: one that started after the caller arrived. */
  async #syncAfter(generation: number): Promise<number> {
    for (;;) {
      const current = this.#syncing
      if (current !== undefined && current.generation > generation) return current.promise
      if (current !== undefined) {
        // It started before the caller arrived, so it may predate the block the caller must be judged at. If it
        // failed, the chain is not answering: the caller is judged by what is known rather than wait for another.
        const failure = await current.promise.then(
          () => undefined,
          (err: unknown) => ({ err }),
        )
        if (failure !== undefined) throw failure.err
        continue
      }
      const waitMs = this.#lastSyncStartMs + this.#headReadIntervalMs - this.#now()
      if (waitMs > 0 && this.#timer !== undefined) {
        await this.#spaced(waitMs)
        continue
      }
      return this.#sync()
    }
  }

  #endSpacing(): void {
    const spacer = this.#spacer
    this.#spacer = undefined
    clearTimeout(spacer?.timer)
    spacer?.resolve()
  }

  #spaced(waitMs: number): Promise<void> {
    if (this.#spacer === undefined) {
      let resolve: () => void = () => undefined
      const promise = new Promise<void>((settle) => {
        resolve = settle
      })
      const timer = setTimeout(() => {
        this.#spacer = undefined
        resolve()
      }, waitMs)
      this.#spacer = { promise, timer, resolve }
    }
    return this.#spacer.promise
  }

  async #runSync(): Promise<number> {
    this.#reads.heads += 1
    const head = await this.#rpc(() => this.#provider.getBlockNumber())
    const last = this.#lastBlock
    const contracts = this.#watchedContracts()
    if (last === undefined || contracts.length === 0 || head === last) {
      this.#lastBlock = head
      return head
    }
    if (head < last || head - last > this.#maxLogRange) {
      // A reorg, or too long a gap to read logs for: trust nothing cached.
      this.#log.info('chain moved too far to follow by logs; re-reading every gate verdict', { last, head })
      for (const verdict of this.#verdicts.values()) verdict.stale = true
      for (const inflight of this.#inflight.values()) inflight.invalidated = true
      this.#lastBlock = head
      return head
    }
    this.#reads.logs += 1
    const logs = await this.#rpc(() =>
      this.#provider.getLogs({
        address: contracts,
        topics: [[TRANSFER_TOPIC, TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC]],
        fromBlock: last + 1,
        toBlock: head,
      }),
    )
    const touched = new Set<Address>()
    for (const log of logs) {
      const [topic, ...args] = log.topics
      const parties = topic === TRANSFER_TOPIC ? args.slice(0, 2) : args.slice(1, 3)
      for (const party of parties) {
        if (party === undefined || party.length !== 66) continue
        const address = getAddress(`0x${party.slice(26)}`) as Address
        if (address !== ZERO_ADDRESS) touched.add(address)
      }
    }
    for (const address of touched) {
      for (const key of this.#keysByAddress.get(address) ?? []) {
        const verdict = this.#verdicts.get(key)
        if (verdict !== undefined) verdict.stale = true
      }
      for (const inflight of this.#inflight.values()) if (inflight.address === address) inflight.invalidated = true
    }
    if (touched.size > 0) this.#log.debug('transfers seen', { from: last + 1, to: head, addresses: touched.size })
    this.#lastBlock = head
    return head
  }

  #watchedContracts(): string[] {
    const contracts = new Set<string>()
    const keys = new Set<string>()
    for (const key of this.#verdicts.keys()) keys.add(ruleKeyOf(key))
    for (const key of this.#watched.keys()) keys.add(ruleKeyOf(key))
    // A rule being read for the first time: a transfer during the read must still be seen.
    for (const key of this.#inflight.keys()) keys.add(ruleKeyOf(key))
    for (const ruleKey of keys)
      for (const contract of this.#rules.get(ruleKey)?.contracts ?? []) contracts.add(contract)
    return [...contracts]
  }

  /** One poll: follow the chain, re-check watched members whose verdict is stale or old. */
  async #tick(): Promise<void> {
    if (this.#ticking || (this.#verdicts.size === 0 && this.#watched.size === 0)) return
    this.#ticking = true
    try {
      const now = this.#now()
      for (const [key, watched] of this.#watched) {
        if (now - watched.lastSeenMs > this.#watchIdleMs) this.#watched.delete(key)
      }
      // Verdicts nobody watches are only worth their lifetime; once none is left, polling pauses.
      for (const [key, verdict] of this.#verdicts) {
        if (!this.#watched.has(key) && now - verdict.result.checkedAtMs >= this.#cacheTtlMs) this.#forget(key)
      }
      if (this.#verdicts.size === 0 && this.#watched.size === 0) return
      try {
        await this.#sync()
        this.#noteAvailable()
      } catch (err) {
        this.#reportUnavailable(toUnavailable(err, this.#chainId))
        return
      }
      const due = [...this.#watched.entries()].filter(([key]) => {
        const verdict = this.#verdicts.get(key)
        return verdict === undefined || verdict.stale || now - verdict.result.checkedAtMs >= this.#cacheTtlMs
      })
      for (const [, watched] of due) {
        if (this.#timer === undefined) return
        await this.evaluate(watched.rule, watched.address)
      }
    } finally {
      this.#ticking = false
    }
  }

  async #rpc<T>(call: () => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(this.#rpcTimeoutMs)
    try {
      return await raceSignal(call(), signal)
    } catch (err) {
      if (err === signal.reason) {
        throw new GateUnavailableError(`the chain's RPC endpoint did not answer within ${this.#rpcTimeoutMs} ms`, {
          hint: 'check the RPC endpoint (--rpc); members already verified stay admitted, nobody new is admitted until it answers',
          cause: err,
        })
      }
      throw err
    }
  }

  // --- the cache ---

  #key(rule: GateRule, address: string): string {
    let ruleKey = this.#ruleKeys.get(rule)
    if (ruleKey === undefined) {
      ruleKey = gateRuleKey(rule)
      this.#ruleKeys.set(rule, ruleKey)
    }
    if (!this.#rules.has(ruleKey)) {
      this.#rules.set(ruleKey, { rule, contracts: [...new Set(conditionsOf(rule).map((c) => getAddress(c.contract)))] })
      evictOldest(this.#rules, this.#maxCached)
    }
    return `${this.#checksum(address)}|${ruleKey}`
  }

  /** EIP-55 form of `address`, remembered: the gate runs on every record and a checksum costs a hash. */
  #checksum(address: string): Address {
    let checksummed = this.#checksums.get(address)
    if (checksummed === undefined) {
      checksummed = getAddress(address) as Address
      this.#checksums.set(address, checksummed)
      evictOldest(this.#checksums, this.#maxCached)
    }
    return checksummed
  }

  #store(key: string, rule: GateRule, result: GateResult, stale: boolean): void {
    const previous = this.#verdicts.get(key)
    this.#verdicts.delete(key)
    this.#verdicts.set(key, { result, stale })
    let keys = this.#keysByAddress.get(result.address)
    if (keys === undefined) {
      keys = new Set()
      this.#keysByAddress.set(result.address, keys)
    }
    keys.add(key)
    while (this.#verdicts.size > this.#maxCached) this.#forget(this.#verdicts.keys().next().value as string)
    const before = previous?.result.status
    if (before === undefined || before === result.status || result.status === 'unknown') return
    const change: EligibilityChange = { address: result.address, rule, ruleKey: ruleKeyOf(key), result }
    this.#log.info(result.status === 'eligible' ? 'member now passes the gate' : 'member no longer passes the gate', {
      address: result.address,
      block: result.blockNumber,
    })
    this.safeDispatchEvent(result.status === 'eligible' ? 'member:eligible' : 'member:ineligible', { detail: change })
  }

  #forget(key: string): void {
    this.#verdicts.delete(key)
    const address = key.slice(0, key.indexOf('|')) as Address
    const keys = this.#keysByAddress.get(address)
    keys?.delete(key)
    if (keys?.size === 0) this.#keysByAddress.delete(address)
  }

  /** The chain could not be asked: the last definite verdict if there is one, else `unknown`. */
  #fallback(
    key: string,
    rule: GateRule,
    address: Address,
    error: GateUnavailableError,
    partial?: GateResult,
  ): GateResult {
    this.#reportUnavailable(error)
    const known = this.#verdicts.get(key)
    if (known !== undefined && known.result.status !== 'unknown') return { ...known.result, stale: true, error }
    return (
      partial ?? {
        status: 'unknown',
        address,
        rule,
        blockNumber: undefined,
        holdings: conditionsOf(rule).map((condition) => ({ condition, balance: undefined, token: {} })),
        checkedAtMs: this.#now(),
        stale: false,
        error,
      }
    )
  }

  #reportUnavailable(error: GateUnavailableError): void {
    if (this.#outage !== undefined) return
    this.#outage = error
    this.#log.warn('token gates cannot be checked: nobody new is admitted to gated rooms until the chain answers', {
      error: error.message,
      hint: error.hint,
    })
    this.safeDispatchEvent('gate:unavailable', { detail: error })
  }

  #noteAvailable(): void {
    if (this.#outage === undefined) return
    this.#outage = undefined
    this.#log.info('the chain answers again; token gates are checked', { chainId: this.#chainId })
    this.safeDispatchEvent('gate:available', { detail: { chainId: this.#chainId } })
  }
}

function ruleKeyOf(key: string): string {
  return key.slice(key.indexOf('|') + 1)
}

function isRevert(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'CALL_EXCEPTION'
}

function toUnavailable(err: unknown, chainId: number | undefined): GateUnavailableError {
  if (err instanceof GateUnavailableError) return err
  const reason = (err as { shortMessage?: string; message?: string } | undefined)?.shortMessage ?? String(err)
  return new GateUnavailableError(`cannot read chain ${chainId ?? '(unknown id)'}: ${reason}`, {
    details: { chainId },
    hint: 'check the RPC endpoint (--rpc); members already verified stay admitted, nobody new is admitted until it answers',
    cause: err,
  })
}
