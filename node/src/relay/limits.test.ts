import { generateKeyPair } from '@libp2p/crypto/keys'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RelayLimits } from './limits.ts'

const BAN_MS = 60_000

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** An inbound connection from `ip`; the limits read its address and listen for its close. */
function inbound(ip: string): MultiaddrConnection {
  return { remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001`), addEventListener: () => {} } as unknown as MultiaddrConnection
}

/** Whether the gater refuses a new connection from `ip`; else the connection, handshake done, as `device`'s. */
async function connects(limits: RelayLimits, ip: string, device?: PeerId): Promise<boolean> {
  const maConn = inbound(ip)
  if (await limits.gater.denyInboundConnection?.(maConn)) return false
  if (await limits.gater.denyInboundEncryptedConnection?.(device ?? (await peer()), maConn)) return false
  await limits.gater.denyInboundUpgradedConnection?.(device ?? (await peer()), maConn)
  return true
}

describe('RelayLimits', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: an address whose devices are banned as flooders, three at a time, is refused as long; other addresses and many-client addresses are not', async () => {
    vi.useFakeTimers({ now: 0 })
    const limits = new RelayLimits({ log: silentLoggerFactory('test'), manyClientAddresses: ['10.0.0.9'] })
    const flooders = [await peer(), await peer(), await peer()]
    for (const flooder of flooders) {
      expect(await connects(limits, '192.0.2.1', flooder)).toBe(true)
      expect(await connects(limits, '10.0.0.9', flooder)).toBe(true)
    }
    // Two banned devices: the address is still welcome (one flooder behind a NAT must not cost everyone behind it).
    limits.ban(flooders[0]!.toString(), BAN_MS, 'record-flood')
    limits.ban(flooders[1]!.toString(), BAN_MS, 'record-flood')
    expect(await connects(limits, '192.0.2.1')).toBe(true)
    // The third: a fresh PeerId from there is refused now, for as long as the bans last.
    limits.ban(flooders[2]!.toString(), BAN_MS, 'record-flood')
    expect(await connects(limits, '192.0.2.1')).toBe(false)
    expect(await connects(limits, '192.0.2.2')).toBe(true)
    expect(await connects(limits, '10.0.0.9')).toBe(true)
    expect(limits.stats().refused['record-flood']).toBe(3)
    // One refusal for the ban itself, one for the refused connection.
    expect(limits.stats().refused['record-flood-per-ip']).toBe(2)
    // The banned devices themselves stay refused, from any address.
    expect(await connects(limits, '10.0.0.9', flooders[0])).toBe(false)

    vi.advanceTimersByTime(BAN_MS)
    expect(await connects(limits, '192.0.2.1')).toBe(true)
    expect(await connects(limits, '192.0.2.1', flooders[0])).toBe(true)
  })
})
