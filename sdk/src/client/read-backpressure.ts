import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId, Stream } from '@libp2p/interface'
import { READ_RECORDS_IN_FLIGHT } from '../constants.ts'

export interface ReadBackpressureInit {
  /**
   * Records of one neighbour being handled at once (decoded, signature checked, validated) before its stream is read
   * no further; reading resumes once half of them are done. {@link READ_RECORDS_IN_FLIGHT} by default.
   */
  recordsInFlight?: number
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

interface Neighbour {
  inFlight: number
  /** Set while its stream is paused: called once its records in flight are down to the resume mark. */
  resume: (() => void) | undefined
}

/**
 * Reads each neighbour's gossip no faster than its records are handled. Gossipsub reads a stream as fast as the
 * connection brings it and starts handling every record at once — decoding it, checking its signature, then the topic
 * validator — and the stream's reader buffers whatever the handlers have not taken yet, without limit. A neighbour
 * sending faster than the node handles records (a flooder: ten of them, signing valid records, left a 2-core relay
 * minutes behind) then fills the node's memory, and every other neighbour's records wait behind its backlog.
 *
 * So once one neighbour has `recordsInFlight` records being handled, its read loop stops after the current RPC
 * (gossipsub's `awaitRpcHandler`, {@link READ_BACKPRESSURE_GOSSIPSUB_OPTIONS}) and its stream is paused: the muxer
 * then sends it no more window updates, and the neighbour's own writes wait (yamux flow control) — the flooder is held
 * back on its side of the connection, while other neighbours' streams are read as before. A neighbour's backlog is
 * bounded by the records in flight plus one stream window.
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
  const neighbours = new Map<string, Neighbour>()
  let pauses = 0

  const handleMessage = internals.handleReceivedMessage.bind(pubsub)
  internals.handleReceivedMessage = async (from, message) => {
    const id = from.toString()
    let neighbour = neighbours.get(id)
    if (neighbour === undefined) {
      neighbour = { inFlight: 0, resume: undefined }
      neighbours.set(id, neighbour)
    }
    neighbour.inFlight += 1
    try {
      await handleMessage(from, message)
    } finally {
      neighbour.inFlight -= 1
      if (neighbour.inFlight <= resumeAt) neighbour.resume?.()
      if (neighbour.inFlight === 0 && neighbour.resume === undefined) neighbours.delete(id)
    }
  }

  const handleRpc = internals.handleReceivedRpc.bind(pubsub)
  internals.handleReceivedRpc = async (from, rpc) => {
    await handleRpc(from, rpc)
    const neighbour = neighbours.get(from.toString())
    if (neighbour === undefined || neighbour.inFlight < most) return
    const stream = internals.streamsInbound.get(from.toString())?.rawStream
    pauses += 1
    if (stream?.readStatus === 'readable') stream.pause()
    try {
      await new Promise<void>((resolve) => {
        neighbour.resume = resolve
      })
    } finally {
      neighbour.resume = undefined
      if (neighbour.inFlight === 0) neighbours.delete(from.toString())
      // Closed meanwhile (the neighbour left or was cut off): nothing to resume.
      if (stream?.status === 'open' && stream.readStatus === 'paused') stream.resume()
    }
  }

  return {
    stats: () => ({
      pausedPeers: [...neighbours.values()].filter((neighbour) => neighbour.resume !== undefined).length,
      pauses,
    }),
  }
}
