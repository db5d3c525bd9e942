/**
 * A device's side of the SFU protocol for tests (the app's is the sdk's `openSfuSession`; this one also sends what a
 * broken or hostile device sends): a stream to the relay, frames sent and received, and SDPs Janus accepts, made by hand since Node has no WebRTC — a
 * publisher's Opus offer (send only) and answers to Janus's subscriber offers (receive only). Their ICE candidate
 * is a host address nobody listens on and their DTLS fingerprint a random one: Janus answers and offers all the same,
 * its ICE checks just go unanswered. Used in this process and by `test/scenarios/relay-sfu.ts` inside a network namespace.
 */
import { randomBytes } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import {
  decodeSfuEvent,
  encodeSfuRequest,
  MAX_SFU_FRAME_BYTES,
  SFU_PROTOCOL,
  type SfuEvent,
  type SfuRequest,
} from '@securechat/sdk/calls'

export interface SfuTestClient {
  stream: Stream
  lp: LengthPrefixedStream<Stream>
  /** Every event received, in order. */
  events: SfuEvent[]
  send(request: SfuRequest): Promise<void>
  /** Raw bytes as a frame (what a broken or hostile device sends). */
  sendRaw(bytes: Uint8Array): Promise<void>
  /** The next event matching `match` not yet taken, within `timeoutMs`. */
  next<T extends SfuEvent['op']>(op: T, timeoutMs?: number): Promise<Extract<SfuEvent, { op: T }>>
  /** Resolves when the relay closed the stream (its reads end). */
  closed: Promise<void>
  close(): Promise<void>
}

export async function openSfu(libp2p: Libp2p, relayPeerId: string): Promise<SfuTestClient> {
  const stream = await libp2p.dialProtocol(peerIdFromString(relayPeerId), SFU_PROTOCOL, {
    signal: AbortSignal.timeout(10_000),
  })
  const lp = lpStream(stream, { maxDataLength: MAX_SFU_FRAME_BYTES })
  const events: SfuEvent[] = []
  const taken = new Set<number>()
  let wake: (() => void) | undefined
  const closed = (async () => {
    try {
      for (;;) {
        const decoded = decodeSfuEvent((await lp.read()).subarray())
        if (!decoded.ok) throw new Error(`the relay sent a malformed frame: ${decoded.reason}`)
        events.push(decoded.value)
        wake?.()
      }
    } catch {
      wake?.()
    }
    // The relay closed its side (after a refusal, say): an honest device closes its own.
    await stream.close().catch(() => undefined)
  })()
  let ended = false
  void closed.then(() => {
    ended = true
  })
  return {
    stream,
    lp,
    events,
    send: async (request) => void (await lp.write(encodeSfuRequest(request))),
    sendRaw: async (bytes) => void (await lp.write(bytes)),
    async next(op, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const index = events.findIndex((event, i) => !taken.has(i) && event.op === op)
        if (index >= 0) {
          taken.add(index)
          return events[index] as never
        }
        if (ended) throw new Error(`the stream closed before a ${op} frame; got ${JSON.stringify(events)}`)
        if (Date.now() > deadline) throw new Error(`no ${op} frame in time; got ${JSON.stringify(events)}`)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 100)
        })
      }
    },
    closed,
    close: async () => {
      await stream.close().catch(() => stream.abort(new Error('closed')))
    },
  }
}

function fingerprint(): string {
  return [...randomBytes(32)].map((byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':')
}

function iceLines(ip: string): string[] {
  return [
    `a=ice-ufrag:${randomBytes(3).toString('hex')}`,
    `a=ice-pwd:${randomBytes(12).toString('hex')}`,
    `a=fingerprint:sha-256 ${fingerprint()}`,
    `a=candidate:1 1 udp 2122260223 ${ip} ${40_000 + (randomBytes(1)[0] ?? 0)} typ host`,
    'a=end-of-candidates',
  ]
}

/** A publisher's offer: one Opus track, send only, candidates inside (non-trickle, as the app sends). */
export function opusOffer(ip: string): string {
  const ssrc = randomBytes(4).readUInt32BE() || 1
  return `${[
    'v=0',
    `o=- ${randomBytes(6).readUIntBE(0, 6)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS call',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    ...iceLines(ip),
    'a=setup:actpass',
    'a=mid:0',
    'a=sendonly',
    'a=msid:call mic',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    `a=ssrc:${ssrc} cname:test`,
  ].join('\r\n')}\r\n`
}

/** An answer to Janus's subscriber offer: every section it offers received (inactive ones stay inactive). */
export function answerTo(offer: string, ip: string): string {
  const [session = '', ...sections] = offer.split(/\r?\nm=/)
  const group = session.split(/\r?\n/).find((line) => line.startsWith('a=group:BUNDLE'))
  const ice = iceLines(ip)
  const media = sections.map((text) => {
    const lines = `m=${text}`.split(/\r?\n/).filter(Boolean)
    const [kind, port, proto, ...formats] = lines[0]!.slice(2).split(' ')
    const mid = lines.find((line) => line.startsWith('a=mid:')) ?? 'a=mid:0'
    const inactive = port === '0' || lines.includes('a=inactive')
    if (kind === 'application') {
      return [
        `m=application 9 ${proto} ${formats.join(' ')}`,
        'c=IN IP4 0.0.0.0',
        ...ice,
        'a=setup:active',
        mid,
        'a=sctp-port:5000',
      ]
    }
    return [
      `m=${kind} ${inactive ? 0 : 9} ${proto} ${formats.join(' ')}`,
      'c=IN IP4 0.0.0.0',
      ...ice,
      'a=setup:active',
      mid,
      inactive ? 'a=inactive' : 'a=recvonly',
      'a=rtcp-mux',
      ...lines.filter((line) => line.startsWith('a=rtpmap:') || line.startsWith('a=fmtp:')),
    ]
  })
  return `${[
    'v=0',
    `o=- ${randomBytes(6).readUIntBE(0, 6)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    ...(group === undefined ? [] : [group]),
    ...media.flat(),
  ].join('\r\n')}\r\n`
}

/**
 * A real WebRTC publisher in Node: libdatachannel (`node-datachannel`, already here under `@libp2p/webrtc`) with one
 * Opus track, send only. Its offer carries its candidates (gathering waited for); `sendPackets` sends RTP packets
 * whose payloads are random bytes — what SFrame frames are to Janus — and returns those payloads in hex.
 */
export async function realPublisher(): Promise<{
  offer: string
  answer(sdp: string): Promise<void>
  sendPackets(count: number): Promise<string[]>
  close(): void
}> {
  const { default: ndc } = await import('node-datachannel')
  const pc = new ndc.PeerConnection('publisher', { iceServers: [] })
  const ssrc = randomBytes(4).readUInt32BE() || 1
  const audio = new ndc.Audio('0', 'SendOnly')
  audio.addOpusCodec(111)
  audio.addSSRC(ssrc, 'publisher', 'call', 'mic')
  const track = pc.addTrack(audio)
  const gathered = new Promise<void>((resolve) =>
    pc.onGatheringStateChange((state) => state === 'complete' && resolve()),
  )
  pc.setLocalDescription()
  await withTimeout(gathered, 10_000, 'ICE gathering')
  const open = new Promise<void>((resolve) => track.onOpen(() => resolve()))
  return {
    offer: pc.localDescription()!.sdp,
    async answer(sdp) {
      pc.setRemoteDescription(sdp, 'answer')
      await withTimeout(open, 15_000, 'the publisher track opening')
    },
    async sendPackets(count) {
      const payloads: string[] = []
      for (let seq = 0; seq < count; seq++) {
        const header = Buffer.alloc(12)
        header[0] = 0x80
        header[1] = 111
        header.writeUInt16BE(seq, 2)
        header.writeUInt32BE(seq * 960, 4)
        header.writeUInt32BE(ssrc, 8)
        const payload = randomBytes(60)
        payloads.push(payload.toString('hex'))
        track.sendMessageBinary(Buffer.concat([header, payload]))
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return payloads
    },
    close: () => pc.close(),
  }
}

/** A real WebRTC subscriber answering Janus's offer; `payloads` are the RTP payloads it received, in hex. */
export async function realSubscriber(offer: string): Promise<{
  answer: string
  connected: Promise<void>
  payloads: string[]
  /** Janus's next offer (an update) applied; the answer to send back. */
  renegotiate(offer: string): string
  close(): void
}> {
  const { default: ndc } = await import('node-datachannel')
  const pc = new ndc.PeerConnection('subscriber', { iceServers: [] })
  const payloads: string[] = []
  let opened: () => void = () => undefined
  const connected = new Promise<void>((resolve) => {
    opened = resolve
  })
  pc.onTrack((track) => {
    track.onOpen(() => opened())
    track.onMessage((packet) => {
      // RTP only (RTCP's packet types are 200–206 in the second byte); the payload after the header, its CSRCs and
      // its extension (Janus may add one).
      if (packet.length <= 12 || (packet[1]! & 0x7f) !== 111) return
      let offset = 12 + 4 * (packet[0]! & 0x0f)
      if ((packet[0]! & 0x10) !== 0) offset += 4 + 4 * packet.readUInt16BE(offset + 2)
      payloads.push(packet.subarray(offset).toString('hex'))
    })
  })
  const gathered = new Promise<void>((resolve) =>
    pc.onGatheringStateChange((state) => state === 'complete' && resolve()),
  )
  pc.setRemoteDescription(offer, 'offer')
  await withTimeout(gathered, 10_000, 'ICE gathering')
  return {
    answer: pc.localDescription()!.sdp,
    connected: withTimeout(connected, 15_000, 'the subscriber track opening'),
    payloads,
    renegotiate(next) {
      pc.setRemoteDescription(next, 'offer')
      return pc.localDescription()!.sdp
    },
    close: () => pc.close(),
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref()),
  ])
}
