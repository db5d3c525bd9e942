import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import type { Libp2pOptions } from 'libp2p'

/**
 * Browsers reach relays over WebSockets, reserve a relay slot (circuit relay v2) and upgrade
 * to direct WebRTC with the peers of their rooms.
 */
export function defaultTransports(): NonNullable<Libp2pOptions['transports']> {
  return [webSockets(), webRTC(), circuitRelayTransport()]
}
