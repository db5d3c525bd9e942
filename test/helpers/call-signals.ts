/**
 * vitest helper: call signals (docs/architecture.md, Calls: signalling) for the calls tests — a valid `here`,
 * `offer`, `answer` and `leave` of one call, each test overriding the fields it is about. One set, so that a field the
 * schema gains or changes is met in one place rather than in a copy per test file.
 *
 *   const here = hereSignal({ muted: true })            // as a device receives it: `v` and `kind` included
 *   await room.sendCallSignal(signalInput(here))        // as `sendCallSignal` takes it
 */
import { CALL_KEY_BYTES, encodeCallKey } from '@securechat/sdk/calls'
import type { CallSignal, CallSignalInput } from '@securechat/sdk/types'

type HereSignal = Extract<CallSignal, { op: 'here' }>
type SdpSignal = Extract<CallSignal, { op: 'offer' | 'answer' }>
type LeaveSignal = Extract<CallSignal, { op: 'leave' }>

/** The call the fixtures belong to, unless a test names another (`newCallId()`). */
export const TEST_CALL_ID = '0f'.repeat(16)

/** What every {@link testSdp} carries, to look for on the wire (it must never be found in the clear). */
export const TEST_SDP_MARK = 'o=securechat-test-sdp'

/** A call key under KID `fill`, its 16 bytes all `fill`: senders told apart by a number. */
export function callKeyOf(fill: number): HereSignal['key'] {
  return { kid: fill, key: encodeCallKey(new Uint8Array(CALL_KEY_BYTES).fill(fill)) }
}

/** A small SDP the schema accepts, marked with whose it is. */
export function testSdp(who = 'test'): string {
  return `v=0\r\n${TEST_SDP_MARK}-${who} 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n`
}

/** A `here`: audio and video on, not muted, key {@link callKeyOf}(1). */
export function hereSignal(fields: Partial<Omit<HereSignal, 'v' | 'kind' | 'op'>> = {}): HereSignal {
  return {
    v: 1,
    kind: 'call',
    op: 'here',
    call: TEST_CALL_ID,
    media: { audio: true, video: true, screen: false },
    muted: false,
    key: callKeyOf(1),
    startedAtMs: 1_500,
    ...fields,
  }
}

/** An offer to the device `to`. */
export function offerSignal(to: string, fields: Partial<Pick<SdpSignal, 'call' | 'sdp'>> = {}): SdpSignal {
  return { v: 1, kind: 'call', op: 'offer', call: TEST_CALL_ID, to, sdp: testSdp(), ...fields }
}

/** An answer to the device `to`. */
export function answerSignal(to: string, fields: Partial<Pick<SdpSignal, 'call' | 'sdp'>> = {}): SdpSignal {
  return { ...offerSignal(to, fields), op: 'answer' }
}

export function leaveSignal(call = TEST_CALL_ID): LeaveSignal {
  return { v: 1, kind: 'call', op: 'leave', call }
}

/** `signal` as `sendCallSignal` takes it: without `v` and `kind`, which the sdk adds. */
export function signalInput(signal: CallSignal): CallSignalInput {
  const { v: _, kind: __, ...input } = signal
  return input
}
