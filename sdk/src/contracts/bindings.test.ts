import { Interface } from 'ethers'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildContracts, REPO_ROOT, renderBindings, staleBindings } from '../../../scripts/gen-bindings.ts'
import {
  auditLogAbi,
  auditLogBytecode,
  demoMultiTokenAbi,
  demoMultiTokenBytecode,
  demoTokenAbi,
  demoTokenBytecode,
  memberNftAbi,
  memberNftBytecode,
  smartWalletAbi,
  smartWalletBytecode,
} from './index.ts'

describe('contract bindings', () => {
  let rendered: Map<string, string>

  beforeAll(async () => {
    // Always build: Hardhat's cache makes it ~1 s when nothing changed, and a stale artifact would hide a stale binding.
    await buildContracts()
    rendered = await renderBindings()
  }, 120_000)

  it('behavior: the committed bindings match the artifacts of the current contracts', async () => {
    const stale = await staleBindings(rendered)
    expect(stale, `out of date (run \`node scripts/gen-bindings.ts\` in ${REPO_ROOT}): ${stale.join(', ')}`).toEqual([])
  })

  it('behavior: every ABI parses with ethers and every bytecode is hex', () => {
    const bindings = [
      [auditLogAbi, auditLogBytecode],
      [demoMultiTokenAbi, demoMultiTokenBytecode],
      [demoTokenAbi, demoTokenBytecode],
      [memberNftAbi, memberNftBytecode],
      [smartWalletAbi, smartWalletBytecode],
    ] as const
    for (const [abi, bytecode] of bindings) {
      expect(() => new Interface(abi)).not.toThrow()
      expect(bytecode).toMatch(/^0x(?:[0-9a-f]{2})+$/)
    }
    expect(rendered.size).toBe(bindings.length + 1)
  })

  it('behavior: the ABIs keep their literal types (viem-style const ABIs)', () => {
    const anchor = auditLogAbi.find((item) => item.type === 'function' && item.name === 'anchor')
    expect(anchor?.inputs.map((input) => input.type)).toEqual(['bytes32', 'uint32', 'string'])
    const isValidSignature = new Interface(smartWalletAbi).getFunction('isValidSignature')
    expect(isValidSignature?.selector).toBe('0x1626ba7e')
  })
})
