import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Libp2pOptions } from 'libp2p'

/** Node peers dial relays (and each other) over TCP and WebSockets. */
export function defaultTransports(): NonNullable<Libp2pOptions['transports']> {
  return [tcp(), webSockets()]
}
