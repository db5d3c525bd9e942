/**
 * The call's frame encryption, in a dedicated worker (docs/architecture.md, Calls: media): every outgoing encoded
 * frame is sealed with SFrame under this device's key, every incoming one opened under its sender's keys, through
 * WebRTC's encoded transforms (`RTCRtpScriptTransform`, whose streams arrive here as `rtctransform` events). One
 * worker serves every peer connection of the call, so that one sender context — one counter — seals every frame this
 * device sends under its KID, whichever connection carries it (RFC 9605 section 9.1: a (key, KID, counter) is used
 * once).
 *
 * A frame that does not open (no key for its KID yet, a KID removed, a forgery, a replay) is dropped, never passed on:
 * a participant without the key decodes nothing. The main thread hands keys in with {@link WorkerCommand}s.
 *
 * Built by Vite as one classic script (no imports at run time): the page's CSP, which the worker's response carries
 * too, lets no worker load another script.
 */
import { createSFrameReceiver, createSFrameSender, type SFrameReceiver, type SFrameSender } from '@securechat/sdk/calls'
import { clearBytesOf, type MediaKind } from './frame-split.ts'

/** What the main thread tells the worker (`call-engine.ts`). KIDs are numbers below 2^48 (the signalling's). */
export type WorkerCommand =
  | { type: 'send-key'; kid: number; key: Uint8Array }
  | { type: 'add-key'; peer: string; kid: number; key: Uint8Array }
  | { type: 'remove-key'; peer: string; kid: number }
  | { type: 'forget-peer'; peer: string }
  | { type: 'stats'; id: number }

/** The options each `RTCRtpScriptTransform` is made with. */
export interface TransformOptions {
  role: 'send' | 'receive'
  kind: MediaKind
  /** The remote device (PeerId) a receiver's frames come from. */
  peer?: string
}

/** Frame counts per remote peer (received) and sent, answered to a `stats` command. */
export interface WorkerStats {
  id: number
  sent: number
  unsent: number
  received: Record<string, { decrypted: number; dropped: number }>
}

interface EncodedFrame {
  data: ArrayBuffer
  readonly type?: string
}

interface Transformer {
  readonly readable: ReadableStream<EncodedFrame>
  readonly writable: WritableStream<EncodedFrame>
  readonly options: TransformOptions
}

interface WorkerScope {
  onrtctransform: ((event: { transformer: Transformer }) => void) | null
  onmessage: ((event: MessageEvent<WorkerCommand>) => void) | null
  postMessage(message: WorkerStats): void
}

const scope = globalThis as unknown as WorkerScope

/** The context sealing this device's frames; replaced, not mutated, when the key rotates. */
let sender: SFrameSender | undefined
/** Bumped by each `send-key`: a slower key derivation never replaces a newer key. */
let senderGeneration = 0
/** One receiver per remote device: a peer's connection opens only that peer's KIDs. */
const receivers = new Map<string, SFrameReceiver>()
const counts = { sent: 0, unsent: 0, received: new Map<string, { decrypted: number; dropped: number }>() }

function receiverOf(peer: string): SFrameReceiver {
  let receiver = receivers.get(peer)
  if (receiver === undefined) {
    receiver = createSFrameReceiver()
    receivers.set(peer, receiver)
  }
  return receiver
}

function countOf(peer: string): { decrypted: number; dropped: number } {
  let count = counts.received.get(peer)
  if (count === undefined) {
    count = { decrypted: 0, dropped: 0 }
    counts.received.set(peer, count)
  }
  return count
}

/** `bytes` as an ArrayBuffer of exactly its length (what `frame.data` takes). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer
  }
  return bytes.slice().buffer as ArrayBuffer
}

function sealing(kind: MediaKind): TransformStream<EncodedFrame, EncodedFrame> {
  return new TransformStream({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data)
      if (data.length === 0) return controller.enqueue(frame)
      const current = sender
      if (current === undefined) {
        counts.unsent++
        return
      }
      const clearBytes = Math.min(clearBytesOf(kind, frame.type), data.length)
      try {
        frame.data = exactBuffer(await current.encryptFrame(data, { clearBytes }))
      } catch {
        counts.unsent++
        return
      }
      counts.sent++
      controller.enqueue(frame)
    },
  })
}

function opening(kind: MediaKind, peer: string): TransformStream<EncodedFrame, EncodedFrame> {
  const count = countOf(peer)
  return new TransformStream({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data)
      if (data.length === 0) return controller.enqueue(frame)
      try {
        const { plaintext } = await receiverOf(peer).decryptFrame(data, {
          clearBytes: clearBytesOf(kind, frame.type),
        })
        frame.data = exactBuffer(plaintext)
      } catch {
        // Unknown KID, forged, replayed or malformed: nothing of it reaches the decoder.
        count.dropped++
        return
      }
      count.decrypted++
      controller.enqueue(frame)
    },
  })
}

scope.onrtctransform = (event) => {
  const { readable, writable, options } = event.transformer
  const stream = options.role === 'send' ? sealing(options.kind) : opening(options.kind, options.peer ?? 'unknown peer')
  // A transform ends when its connection closes; nothing to report then.
  readable
    .pipeThrough(stream)
    .pipeTo(writable)
    .catch(() => {})
}

scope.onmessage = (event) => {
  const command = event.data
  switch (command.type) {
    case 'send-key': {
      const generation = ++senderGeneration
      void createSFrameSender({ kid: BigInt(command.kid), baseKey: command.key }).then((created) => {
        if (generation === senderGeneration) sender = created
      })
      return
    }
    case 'add-key': {
      const receiver = receiverOf(command.peer)
      const kid = BigInt(command.kid)
      if (!receiver.hasKey(kid)) void receiver.addKey({ kid, baseKey: command.key }).catch(() => {})
      return
    }
    case 'remove-key':
      receivers.get(command.peer)?.removeKey(BigInt(command.kid))
      return
    case 'forget-peer':
      receivers.delete(command.peer)
      return
    case 'stats':
      scope.postMessage({
        id: command.id,
        sent: counts.sent,
        unsent: counts.unsent,
        received: Object.fromEntries(counts.received),
      })
      return
  }
}
