import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Libp2pOptions } from 'libp2p'
import type { TransportsInit } from './transports.browser.ts'

/** Node peers dial relays (and each other) over TCP and WebSockets; WebRTC is for browsers. */
export function defaultTransports(_init: TransportsInit = {}): NonNullable<Libp2pOptions['transports']> {
  return [tcp(), webSockets()]
}
