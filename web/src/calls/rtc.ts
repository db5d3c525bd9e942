/** WebRTC helpers the mesh (`call-mesh.ts`) and the forwarding unit's connections (`call-sfu.ts`) share. */

/** The longest wait for ICE gathering before an offer or answer goes out with the candidates found so far. */
export const ICE_GATHERING_TIMEOUT_MS = 5_000

/**
 * A call connection: the relay's ICE servers, and every media section on one transport (`max-bundle`), so ICE
 * gathers and checks one set of candidates, not one per section — an offer or answer, sent once gathering is
 * complete, goes out sooner.
 */
export function newPeerConnection(iceServers: RTCIceServer[]): RTCPeerConnection {
  return new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' })
}

/** Opus and VP8 only on `transceiver`: `frame-split.ts` knows their payload headers, which stay in the clear. */
export function preferCodec(transceiver: RTCRtpTransceiver, kind: 'audio' | 'video', mimeType: string): void {
  const codecs = RTCRtpReceiver.getCapabilities(kind)?.codecs.filter((codec) => codec.mimeType === mimeType) ?? []
  if (codecs.length > 0) transceiver.setCodecPreferences(codecs)
}

/**
 * For an ICE restart: call before the restart is set as the local description. Resolves once gathering began again
 * and ended (the state still says `complete` from the first gathering until the new one begins), or after
 * {@link ICE_GATHERING_TIMEOUT_MS}.
 */
export function iceGatheredAgain(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    let began = false
    const done = (): void => {
      clearTimeout(timer)
      pc.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    const check = (): void => {
      if (pc.iceGatheringState === 'gathering') began = true
      else if (pc.iceGatheringState === 'complete' && began) done()
    }
    const timer = setTimeout(done, ICE_GATHERING_TIMEOUT_MS)
    pc.addEventListener('icegatheringstatechange', check)
  })
}

/** Resolves once `pc` gathered its ICE candidates, or after {@link ICE_GATHERING_TIMEOUT_MS}. */
export function iceGathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      pc.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    const check = (): void => {
      if (pc.iceGatheringState === 'complete') done()
    }
    const timer = setTimeout(done, ICE_GATHERING_TIMEOUT_MS)
    pc.addEventListener('icegatheringstatechange', check)
  })
}
