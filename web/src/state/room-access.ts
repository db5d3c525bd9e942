import { conditionsOf, describeGateRule, type GateRule, type TokenInfo } from '@securechat/sdk/gates'
import { decodeInvite } from '@securechat/sdk/rooms'
import { getAddress } from 'ethers'

/**
 * What a room's token gate asks, in sentences a person reads: to its members ("Members hold …"), to a wallet that
 * does not hold it (what to get, and where), and before sign-in (which room an invite is for). The sdk's own
 * wording is for logs and the CLI (lower case, terse); these start with a capital and end with a full stop.
 */

/** The room an invite names and its gate, or undefined when `invite` is no invite. Nothing is verified here. */
export function inviteSummary(invite: string): { name: string; gate: GateRule | undefined } | undefined {
  try {
    const { manifest } = decodeInvite(invite)
    const access = manifest.manifest.access
    return { name: manifest.manifest.name, gate: access.type === 'gated' ? access.rule : undefined }
  } catch {
    return undefined
  }
}

/** "Members hold 1 × SecureChat Member (0x…) on chain 31337." — token names when the chain gave them. */
export function requirementSentence(rule: GateRule, tokens?: ReadonlyMap<string, TokenInfo>): string {
  return `Members hold ${describeGateRule(rule, tokens === undefined ? {} : { tokens })}.`
}

/**
 * Why this wallet is not let in (`reason`, the sdk's: "this room requires …; 0x… holds 0") and what to do: which
 * token to get into this wallet — its contract and chain, where it is issued — or another wallet to sign in with.
 */
export function notEligibleSentence(rule: GateRule | undefined, reason: string | undefined): string {
  const why =
    reason === undefined || reason === ''
      ? 'This wallet does not hold the token this room asks for'
      : capitalize(reason)
  const where =
    rule === undefined
      ? ''
      : ` (${[...new Set(conditionsOf(rule).map((c) => `contract ${getAddress(c.contract)} on chain ${c.chainId}`))].join('; ')})`
  return `${why.replace(/[.\s]+$/, '')}. To read and write here, get that token${where} into this wallet — the room's owner can tell you where it is issued — or sign in with a wallet that holds it, then open the invite again.`
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
