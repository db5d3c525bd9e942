import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId, Stream } from '@libp2p/interface'
import { READ_RECORDS_IN_FLIGHT } from '../constants.ts'

export interface ReadBackpressureInit {
  /**
   * Records of one neighbour being handled at once (decoded, signature checked, validated) before its stream is read
   * no further; reading resumes once half of them are done. {@link READ_RECORDS_IN_FLIGHT} by default.
   */
  recordsInFlight?: number
  /**
   * Neighbours that share one budget of records in flight: `groupOf` names a neighbour's group (a relay: the wallet
   * that certified the device), its PeerId by default. Ten devices of one wallet then get the relay's attention of
   * one, not of ten.
   */
  groupOf?: (peer: string) => string
}

export interface ReadBackpressureStats {
  /** Neighbours whose stream is paused now. */
  pausedPeers: number
  /** Times a neighbour's stream was paused, since start. */
  pauses: number
}

/** The gossipsub options {@link readWithBackpressure} needs: its read loop waits for each RPC's handler. */
export const READ_BACKPRESSURE_GOSSIPSUB_OPTIONS = { awaitRpcHandler: true } as const

/** What of gossipsub's implementation this reads and wraps (17.x; not its published interface). */
interface GossipSubInternals {
  opts: { awaitRpcHandler?: boolean }
  streamsInbound: Map<string, { rawStream: Stream }>
  handleReceivedRpc: (from: PeerId, rpc: unknown) => Promise<void>
  handleReceivedMessage: (from: PeerId, message: unknown) => Promise<void>
}

interface Group {
  inFlight: number
  /** The neighbours of the group whose stream is paused: each called once the group is down to the resume mark. */
  paused: Set<() => void>
}

/**
 * Reads each neighbour's gossip no faster than its records are handled. Gossipsub reads a stream as fast as the
 * connection brings it and starts handling every record at once — decoding it, checking its signature, then the topic
 * validator — and the stream's reader buffers whatever the handlers have not taken yet, without limit. A neighbour
 * sending faster than the node handles records (a flooder: ten of them, signing valid records, left a 2-core relay
 * minutes behind) then fills the node's memory, and every other neighbour's records wait behind its backlog.
 *
 * So once one neighbour (or its group, `groupOf`) has `recordsInFlight` records being handled, its read loop stops
 * after the current RPC (gossipsub's `awaitRpcHandler`, {@link READ_BACKPRESSURE_GOSSIPSUB_OPTIONS}) and its stream
 * is paused: the muxer then sends it no more window updates, and the neighbour's own writes wait (yamux flow
 * control) — the flooder is held back on its side of the connection, while other neighbours' streams are read as
 * before. A neighbour's backlog is bounded by the records in flight plus one stream window. Reading resumes once the
 * group is down to half.
 *
 * Wraps the instance's `handleReceivedRpc` and `handleReceivedMessage` in place (gossipsub exports no class to extend);
 * throws if gossipsub was not given {@link READ_BACKPRESSURE_GOSSIPSUB_OPTIONS}.
 */
export function readWithBackpressure(
  pubsub: GossipSub,
  init: ReadBackpressureInit = {},
): { stats: () => ReadBackpressureStats } {
  const most = init.recordsInFlight ?? READ_RECORDS_IN_FLIGHT
  if (!(most >= 1) || !Number.isInteger(most)) {
    throw new RangeError(`read backpressure recordsInFlight must be a positive integer, got ${most}`)
  }
  const resumeAt = Math.floor(most / 2)
  const internals = pubsub as unknown as GossipSubInternals
  if (internals.opts.awaitRpcHandler !== true) {
    throw new RangeError('read backpressure needs gossipsub with awaitRpcHandler: true')
  }
  const groupOf = init.groupOf ?? ((peer: string) => peer)
  /** Groups with records in flight or neighbours paused; no other. */
  const groups = new Map<string, Group>()
  let pauses = 0
  const forget = (key: string, group: Group): void => {
    if (group.inFlight === 0 && group.paused.size === 0) groups.delete(key)
  }

  const handleMessage = internals.handleReceivedMessage.bind(pubsub)
  internals.handleReceivedMessage = async (from, message) => {
    // The group as the record arrives: the one its handling is counted in, whatever it learns meanwhile.
    const key = groupOf(from.toString())
    let group = groups.get(key)
    if (group === undefined) {
      group = { inFlight: 0, paused: new Set() }
      groups.set(key, group)
    }
    group.inFlight += 1
    try {
      await handleMessage(from, message)
    } finally {
      group.inFlight -= 1
      if (group.inFlight <= resumeAt) for (const resume of group.paused) resume()
      forget(key, group)
    }
  }

  const handleRpc = internals.handleReceivedRpc.bind(pubsub)
  internals.handleReceivedRpc = async (from, rpc) => {
    await handleRpc(from, rpc)
    const key = groupOf(from.toString())
    const group = groups.get(key)
    if (group === undefined || group.inFlight < most) return
    const stream = internals.streamsInbound.get(from.toString())?.rawStream
    pauses += 1
    if (stream?.readStatus === 'readable') stream.pause()
    let resume: () => void = () => undefined
    try {
      await new Promise<void>((resolve) => {
        resume = resolve
        group.paused.add(resolve)
      })
    } finally {
      group.paused.delete(resume)
      forget(key, group)
      // Closed meanwhile (the neighbour left or was cut off): nothing to resume.
      if (stream?.status === 'open' && stream.readStatus === 'paused') stream.resume()
    }
  }

  return {
    stats: () => ({
      pausedPeers: [...groups.values()].reduce((sum, group) => sum + group.paused.size, 0),
      pauses,
    }),
  }
}
