import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { PING_TIMEOUT_MS } from '../constants.ts'
import { createSecureChatLibp2p } from './libp2p.ts'

/** What the pings (`spread-pings.ts`) and libp2p's ping service were given (the service's field is not published). */
interface PingSettings {
  services: { ping: { timeout: number }; pings: { intervalMs: number; timeoutMs: number } }
}

describe('connection pings', () => {
  // The monitor pings every connection on a fixed interval and the ping protocol allows one outbound ping stream per
  // peer: a ping still waiting when the next is due makes the next fail to open, and that failure cuts the connection.
  // With libp2p's 10 s interval a 20 s timeout was a 10 s one, and fifty clients behind one address lost their relay.
  it('behavior: a ping ends (answered or timed out) before the next starts, and the answering side waits as long', async () => {
    const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
    try {
      const { services } = libp2p as unknown as PingSettings
      expect(services.pings.timeoutMs).toBe(PING_TIMEOUT_MS)
      expect(services.pings.intervalMs).toBeGreaterThan(services.pings.timeoutMs)
      // libp2p's ping handler resets a stream it has answered on for 10 s by default: the asker, still waiting on it,
      // then counted the ping failed.
      expect(services.ping.timeout).toBeGreaterThanOrEqual(services.pings.timeoutMs)
      // libp2p's own monitor, which pings every connection in one turn of the event loop, is off.
      const components = (libp2p as unknown as { components: { connectionMonitor?: unknown } }).components
      expect(() => components.connectionMonitor).toThrow('connectionMonitor not set')
    } finally {
      await libp2p.stop()
    }
  })
})
