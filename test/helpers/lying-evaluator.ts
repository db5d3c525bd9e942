/** What a modified client that skips token gates would use: everyone is eligible, at no block. */
import type { GateEvaluator, GateEvaluatorEvents, GateReadStats, GateResult, GateRule } from '@securechat/sdk/gates'
import { getAddress } from 'ethers'
import { TypedEventEmitter } from 'main-event'

export class LyingEvaluator extends TypedEventEmitter<GateEvaluatorEvents> implements GateEvaluator {
  readonly unavailable = undefined
  readonly head = undefined
  start(): void {}
  stop(): void {}
  async follow(): Promise<undefined> {
    return undefined
  }
  stats(): GateReadStats {
    return { heads: 0, logs: 0, balances: 0 }
  }
  check(): 'eligible' {
    return 'eligible'
  }
  watch(): void {}
  unwatch(): void {}
  async isEligible(): Promise<boolean> {
    return true
  }
  async evaluate(gateRule: GateRule, address: string): Promise<GateResult> {
    return {
      status: 'eligible',
      address: getAddress(address) as `0x${string}`,
      rule: gateRule,
      blockNumber: undefined,
      holdings: [],
      checkedAtMs: Date.now(),
      stale: false,
      error: undefined,
    }
  }
  async describe(): Promise<string> {
    return 'anything'
  }
  async tokenInfo(): Promise<Record<string, never>> {
    return {}
  }
}
