import type { Provider } from 'ethers'
import { type GateEvaluator, type GateEvaluatorInit, resolveGateEvaluator } from '../gates/evaluator.ts'
import { CertificateRegistry } from '../identity/registry.ts'
import type { LoggerFactory } from '../logger.ts'

export interface SenderChecksInit {
  /** JSON-RPC provider: contract wallets (ERC-1271) are verified and token gates read over it. */
  provider?: Provider | undefined
  /** A gate evaluator its owner starts and stops; without one, one over `provider` is made and owned here. */
  gates?: GateEvaluator | undefined
  /** Settings of the evaluator made over `provider` (the relay's `--gate-head-read-interval-ms`). */
  gateEvaluator?: GateEvaluatorInit | undefined
  logger?: LoggerFactory | undefined
}

/**
 * What every node that validates room records holds, the same on a client and a relay (docs/architecture.md, Identity and
 * Token gates): the session certificates it verified, and the token gates it reads. Without a gate evaluator a
 * gated room admits nobody (fail closed).
 */
export class SenderChecks {
  readonly registry: CertificateRegistry
  readonly gates: GateEvaluator | undefined
  readonly #ownsGates: boolean

  constructor(init: SenderChecksInit) {
    this.registry = new CertificateRegistry(init.provider === undefined ? {} : { provider: init.provider })
    const { gates, owned } = resolveGateEvaluator(init)
    this.gates = gates
    this.#ownsGates = owned
  }

  /** Starts the gate evaluator made here; one passed in is its owner's to start. */
  start(): void {
    if (this.#ownsGates) this.gates?.start()
  }

  stop(): void {
    if (this.#ownsGates) this.gates?.stop()
  }
}
