/**
 * The wait a relay service gives a peer that asks as a member before its presence reached the relay: a device that
 * joins a conversation and at once asks something of it (pins a file, joins a call) is a member a moment later. The
 * wait is bounded in time and ends as soon as the peer is no longer connected, so it costs a refused asker nothing
 * but the stream libp2p already bounds.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { sleep } from '@securechat/sdk/async'
import type { RelayNode } from './relay.ts'

export interface MemberWaitInit {
  node: RelayNode
  peer: string
  /** Whether `peer` is a member now (asked again at each poll). */
  isMember: () => boolean
  /** Whether it may still become one (a conversation this relay serves); when not, the answer is at once. */
  mayBecomeMember: boolean
  waitMs: number
  pollMs: number
  /** The service stopping: the wait ends, unanswered (false). */
  signal: AbortSignal
}

/** Whether the peer is, or becomes within the wait, a member. */
export async function becomesMember(init: MemberWaitInit): Promise<boolean> {
  if (init.isMember()) return true
  if (!init.mayBecomeMember) return false
  // Its own connections only, not the list of every connection the relay holds, at each poll.
  const peer = peerIdFromString(init.peer)
  const until = Date.now() + init.waitMs
  while (Date.now() < until && !init.signal.aborted) {
    if (init.node.libp2p.getConnections(peer).length === 0) return false
    await sleep(init.pollMs, init.signal).catch(() => undefined)
    if (init.isMember()) return true
  }
  return false
}
