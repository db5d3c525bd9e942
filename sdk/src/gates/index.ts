export {
  GATE_CACHE_TTL_MS,
  GATE_MAX_CACHED_RESULTS,
  GATE_MAX_CONDITIONS,
  GATE_MAX_DEPTH,
  GATE_MAX_LOG_BLOCK_RANGE,
  GATE_MAX_RATE_TIERS,
  GATE_MAX_TIER_RECORDS_PER_SECOND,
  GATE_POLL_INTERVAL_MS,
  GATE_RPC_TIMEOUT_MS,
  GATE_WATCH_IDLE_MS,
} from './constants.ts'
export {
  type EligibilityChange,
  explainGateResult,
  type GateEvaluator,
  type GateEvaluatorComponents,
  type GateEvaluatorEvents,
  type GateEvaluatorInit,
  type GateHolding,
  type GateResult,
  type GateStatus,
  gateEvaluator,
  onEligibilityChange,
  resolveGateEvaluator,
} from './evaluator.ts'
export { hasRateTiers, tierRecordsPerSecond } from './rate-tiers.ts'
export { decideGate, type GateDecision } from './room-gate.ts'
export {
  conditionsOf,
  type DescribeGateRuleOptions,
  describeGateRule,
  type GateRule,
  gateRuleKey,
  gateRuleSchema,
  normalizeGateRule,
  type ParseGateRuleOptions,
  parseGateRule,
  type RateTier,
  rateTiersSchema,
  type TokenInfo,
  type TokenRule,
  tokenRuleSchema,
} from './rule.ts'
