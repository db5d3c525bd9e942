import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import type { Libp2pOptions } from 'libp2p'

export interface TransportsInit {
  /** ICE servers of WebRTC connections; browsers use the platform's default STUN servers when absent. */
  iceServers?: RTCIceServer[]
}

/**
 * Browsers reach relays over WebSockets, reserve a relay slot (circuit relay v2) and upgrade
 * to direct WebRTC with the peers of their rooms.
 */
export function defaultTransports(init: TransportsInit = {}): NonNullable<Libp2pOptions['transports']> {
  return [
    webSockets(),
    webRTC(init.iceServers === undefined ? {} : { rtcConfiguration: { iceServers: init.iceServers } }),
    circuitRelayTransport(),
  ]
}
