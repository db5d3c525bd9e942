/**
 * Asking a relay to keep a file (`/securechat/files/pin/1.0.0`, frames in `pin-wire.ts`): the relay fetches the
 * file's blocks over bitswap — from the asker and anyone else connected — reports how many bytes it has, and keeps
 * them within its retention and quotas, so the file stays available once its sender goes offline. The relay gets
 * the topic, the CID and the ciphertext's size, never the file's key.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidInputError } from '../errors.ts'
import { FILE_PIN_ANSWER_TIMEOUT_MS, FILE_PIN_PROTOCOL, MAX_FILE_PIN_ANSWER_BYTES } from './constants.ts'
import { FilePinRefusedError, FilePinRequestError } from './errors.ts'
import { decodeFilePinFrame, encodeFilePinRequest, type FilePinRequest } from './pin-wire.ts'

export interface RequestPinOptions {
  signal?: AbortSignal
  /** Ciphertext bytes the relay holds so far, of `bytes`. */
  onProgress?: (progress: { pinned: number; bytes: number }) => void
}

/**
 * Asks `relay` (a peer this node is connected to, or can dial) to keep the file `request` names. Resolves once the
 * relay holds every block and pinned them. Rejects with
 * - `FilePinRefusedError` when the relay refused or gave up (`reason`: not-a-member, too-large, room-quota,
 *   relay-full, unavailable, malformed, busy; `hint` says what to do);
 * - `FilePinRequestError` when it could not be asked, went silent or answered out of protocol;
 * - `InvalidInputError` at once for a request out of bounds;
 * - the signal's reason when aborted (the relay may go on fetching: it keeps the file if it gets it).
 */
export async function requestPin(
  libp2p: Libp2p,
  relay: PeerId | Multiaddr,
  request: FilePinRequest,
  options: RequestPinOptions = {},
): Promise<void> {
  let frame: Uint8Array
  try {
    frame = encodeFilePinRequest(request)
  } catch (cause) {
    throw new InvalidInputError(`cannot ask a relay to keep this file: ${(cause as Error).message}`, {
      details: { topic: request.topic, cid: request.cid, bytes: request.bytes },
      hint: "Pass the manifest's CID, the room's or DM's topic, and the ciphertext's size (ciphertextSize of the file's).",
      cause,
    })
  }
  const details = { relay: relay.toString(), topic: request.topic, cid: request.cid }
  const { signal } = options
  try {
    const stream = await libp2p.dialProtocol(relay, FILE_PIN_PROTOCOL, {
      signal: withTimeout(signal),
      runOnLimitedConnection: true,
    })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_FILE_PIN_ANSWER_BYTES })
      await lp.write(frame, { signal: withTimeout(signal) })
      for (;;) {
        // Each frame within the timeout: a relay still fetching sends progress, one that gave up says so.
        const decoded = decodeFilePinFrame((await lp.read({ signal: withTimeout(signal) })).subarray())
        if (!decoded.ok) {
          throw new FilePinRequestError(`the relay answered the pin request out of protocol: ${decoded.reason}`, {
            details,
            hint: 'Ask another relay of the room to keep the file.',
          })
        }
        const answer = decoded.value
        if (answer.type === 'progress') {
          options.onProgress?.({ pinned: answer.pinned, bytes: request.bytes })
          continue
        }
        await stream.close({ signal: withTimeout(signal) }).catch(() => undefined)
        if (answer.type === 'ok') return
        throw new FilePinRefusedError(answer.reason, `the relay did not keep the file: ${answer.message}`, {
          details: { ...details, reason: answer.reason },
          hint: answer.hint,
        })
      }
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  } catch (err) {
    if (err instanceof FilePinRefusedError || err instanceof FilePinRequestError) throw err
    if (signal?.aborted === true) throw signal.reason
    throw new FilePinRequestError('the relay did not answer the pin request', {
      details,
      hint: 'Check the connection to the relay and ask again, or ask another relay of the room.',
      cause: err,
    })
  }
}

function withTimeout(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(FILE_PIN_ANSWER_TIMEOUT_MS)
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
}
