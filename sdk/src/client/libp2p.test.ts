import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { PING_TIMEOUT_MS } from '../constants.ts'
import { createSecureChatLibp2p } from './libp2p.ts'

/** What libp2p's connection monitor and ping service were given (their fields; not on libp2p's published interface). */
interface PingSettings {
  components: {
    connectionMonitor: { pingIntervalMs: number; timeout: { minTimeout: number; maxTimeout: number } }
  }
  services: { ping: { timeout: number } }
}

describe('connection pings', () => {
  // The monitor pings every connection on a fixed interval and the ping protocol allows one outbound ping stream per
  // peer: a ping still waiting when the next is due makes the next fail to open, and that failure cuts the connection.
  // With libp2p's 10 s interval a 20 s timeout was a 10 s one, and fifty clients behind one address lost their relay.
  it('behavior: a ping ends (answered or timed out) before the next starts, and the answering side waits as long', async () => {
    const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
    try {
      const { components, services } = libp2p as unknown as PingSettings
      const monitor = components.connectionMonitor
      expect(monitor.timeout.minTimeout).toBe(PING_TIMEOUT_MS)
      expect(monitor.timeout.maxTimeout).toBe(PING_TIMEOUT_MS)
      expect(monitor.pingIntervalMs).toBeGreaterThan(monitor.timeout.maxTimeout)
      // libp2p's ping handler resets a stream it has answered on for 10 s by default: the asker, still waiting on it,
      // then counted the ping failed.
      expect(services.ping.timeout).toBeGreaterThanOrEqual(monitor.timeout.maxTimeout)
    } finally {
      await libp2p.stop()
    }
  })
})
