import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_SFU_FEEDS } from '@securechat/sdk/calls'
import { GATE_HEAD_READ_INTERVAL_MS } from '@securechat/sdk/gates'
import { describe, expect, it } from 'vitest'
import { type RelayFlags, resolveRelayConfig } from './config.ts'
import { ConfigError } from './errors.ts'
import { SFU_JANUS_BIN, SFU_MAX_CALLS, SFU_MAX_PUBLISHERS, SFU_RTP_PORTS } from './relay/sfu/constants.ts'

const WSS = '/ip4/0.0.0.0/tcp/443/tls/ws'

function refused(run: () => unknown): ConfigError {
  try {
    run()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('relay settings: addresses (--listen, --announce, --peer)', () => {
  const relay = '/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'

  it('behavior: multiaddrs pass, a linked relay with its PeerId', () => {
    const config = resolveRelayConfig({ listen: ['/ip4/0.0.0.0/tcp/4001'], peer: [relay] }, {})
    expect(config).toMatchObject({ listen: ['/ip4/0.0.0.0/tcp/4001'], peers: [relay] })
  })

  it('error: an address that is no multiaddr, or a linked relay without its PeerId, names the setting and says why', () => {
    const cases: Array<[RelayFlags, string, string]> = [
      [{ listen: ['garbage'] }, 'listen', 'not a multiaddr'],
      [{ announce: ['relay.example:443'] }, 'announce', 'not a multiaddr'],
      [{ peer: ['garbage'] }, 'peers', 'not a multiaddr'],
      [{ peer: ['/ip4/127.0.0.1/tcp/4001/p2p/notapeerid'] }, 'peers', '/p2p/<its PeerId>'],
      [{ peer: ['/ip4/127.0.0.1/tcp/4001'] }, 'peers', '/p2p/<its PeerId>'],
    ]
    for (const [flags, field, why] of cases) {
      const err = refused(() => resolveRelayConfig(flags, {}))
      expect(err.message).toContain(`invalid relay setting ${field}`)
      expect(err.message).toContain(why)
    }
  })
})

describe('relay settings: the config file (--config)', () => {
  it('error: a file that is not there, one that is not JSON, and a bad value say which', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'config-file-'))
    const missing = refused(() => resolveRelayConfig({ config: join(dir, 'nope.json') }, {}))
    expect(missing.message).toContain('there is no such file')
    expect(missing.hint).toContain('--config')
    const broken = join(dir, 'broken.json')
    await writeFile(broken, '{ "peers": [')
    expect(refused(() => resolveRelayConfig({ config: broken }, {})).message).toContain('is not JSON')
    const wrong = join(dir, 'wrong.json')
    await writeFile(wrong, JSON.stringify({ listen: ['garbage'] }))
    expect(refused(() => resolveRelayConfig({ config: wrong }, {})).message).toContain(': listen: not a multiaddr')
  })
})

describe('relay settings: TLS (--tls-cert, --tls-key)', () => {
  it('behavior: flags, environment and config file name the pair, flags first', () => {
    const env = { SECURECHAT_TLS_CERT: '/env/cert.pem', SECURECHAT_TLS_KEY: '/env/key.pem', SECURECHAT_LISTEN: WSS }
    expect(resolveRelayConfig({}, env)).toMatchObject({ tlsCert: '/env/cert.pem', tlsKey: '/env/key.pem' })
    expect(resolveRelayConfig({ tlsCert: '/flag/cert.pem', tlsKey: '/flag/key.pem' }, env)).toMatchObject({
      tlsCert: '/flag/cert.pem',
      tlsKey: '/flag/key.pem',
    })
    expect(resolveRelayConfig({}, {})).not.toHaveProperty('tlsCert')
  })

  it('error: a certificate without its key, or a key without its certificate', () => {
    const noKey = refused(() => resolveRelayConfig({ tlsCert: 'cert.pem', listen: [WSS] }, {}))
    expect(noKey.message).toBe('--tls-key is missing: TLS needs both a certificate and its key')
    expect(noKey.hint).toContain('--tls-key <privkey.pem>')
    const noCert = refused(() => resolveRelayConfig({ tlsKey: 'key.pem', listen: [WSS] }, {}))
    expect(noCert.message).toBe('--tls-cert is missing: TLS needs both a certificate and its key')
  })

  it('error: a pair with nothing to serve it (no /tls/ws listener, no --http)', () => {
    const err = refused(() =>
      resolveRelayConfig({ tlsCert: 'cert.pem', tlsKey: 'key.pem', listen: ['/ip4/0.0.0.0/tcp/4002/ws'] }, {}),
    )
    expect(err.message).toBe('--tls-cert is given, but nothing would serve TLS with it')
    expect(err.hint).toContain('--listen /ip4/0.0.0.0/tcp/443/tls/ws')
    // The HTTPS server alone is something to serve.
    expect(resolveRelayConfig({ tlsCert: 'c', tlsKey: 'k', http: '443' }, {}).httpPort).toBe(443)
  })
})

describe('relay settings: trusted proxies (--http-trusted-proxy)', () => {
  it('behavior: addresses from flags, a comma-separated environment variable or the config file', () => {
    expect(resolveRelayConfig({ httpTrustedProxy: ['127.0.0.1', '::1'] }, {}).httpTrustedProxies).toEqual([
      '127.0.0.1',
      '::1',
    ])
    expect(
      resolveRelayConfig({}, { SECURECHAT_HTTP_TRUSTED_PROXIES: '10.0.0.2, 10.0.0.3' }).httpTrustedProxies,
    ).toEqual(['10.0.0.2', '10.0.0.3'])
    expect(resolveRelayConfig({}, {}).httpTrustedProxies).toEqual([])
  })

  it('error: a proxy that is not an IP address', () => {
    const err = refused(() => resolveRelayConfig({ httpTrustedProxy: ['proxy.example'] }, {}))
    expect(err.details).toMatchObject({ field: 'httpTrustedProxies' })
    expect(err.hint).toContain('--http-trusted-proxy')
  })

  it('error: the old SECURECHAT_HTTP_TRUST_PROXY, which believed anyone, says what replaces it', () => {
    const err = refused(() => resolveRelayConfig({}, { SECURECHAT_HTTP_TRUST_PROXY: '1' }))
    expect(err.hint).toContain('SECURECHAT_HTTP_TRUSTED_PROXIES=<its IP>')
  })
})

describe('relay settings: limits on the libp2p side', () => {
  it('behavior: every limit comes from a flag, the environment or the config file, flags first, else its default', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'limits-config-')), 'relay.json')
    await writeFile(
      file,
      JSON.stringify({
        maxConnectionsPerIp: 7,
        maxReservationsPerIp: 3,
        reservationTtlMs: 120_000,
        controlRecordBurst: 40,
        recordFloodBanMs: 60_000,
        readRecordsInFlight: 16,
      }),
    )
    const config = resolveRelayConfig(
      {
        config: file,
        maxConnectionsPerIp: '9',
        connectionRatePerIp: '0.5',
        recordsPerSecond: '2.5',
        recordBurst: '30',
      },
      {
        SECURECHAT_MAX_RESERVATIONS_PER_IP: '5',
        SECURECHAT_MAX_PENDING_CONNECTIONS: '12',
        SECURECHAT_CONTROL_RECORDS_PER_SECOND: '1',
        SECURECHAT_RECORD_FLOOD_BAN_AFTER_MS: '3000',
        SECURECHAT_MAX_TIER_RECORDS_PER_SECOND: '250',
        SECURECHAT_GATE_HEAD_READ_INTERVAL_MS: '0',
        SECURECHAT_RECORD_FLOOD_BANS_PER_IP: '5',
      },
    )
    expect(config).toMatchObject({
      recordsPerSecond: 2.5,
      recordBurst: 30,
      controlRecordsPerSecond: 1,
      controlRecordBurst: 40,
      recordFloodBanAfterMs: 3000,
      recordFloodBanMs: 60_000,
      recordFloodBansPerIp: 5,
      readRecordsInFlight: 16,
      maxTierRecordsPerSecond: 250,
      gateHeadReadIntervalMs: 0,
      maxConnectionsPerIp: 9,
      connectionRatePerIp: 0.5,
      maxReservationsPerIp: 5,
      maxPendingConnections: 12,
      reservationTtlMs: 120_000,
    })
    const defaults = resolveRelayConfig({}, {})
    expect(defaults.maxConnections).toBeGreaterThan(defaults.maxConnectionsPerIp)
    expect(defaults.maxReservations).toBeGreaterThan(defaults.maxReservationsPerIp)
    // A burst holds what a device may send in a second and more.
    expect(defaults.recordBurst).toBeGreaterThan(defaults.recordsPerSecond)
    expect(defaults.controlRecordBurst).toBeGreaterThan(defaults.controlRecordsPerSecond)
    // A token tier may raise a device's rate above the relay's own, up to the ceiling.
    expect(defaults.maxTierRecordsPerSecond).toBeGreaterThan(defaults.recordsPerSecond)
    expect(defaults.gateHeadReadIntervalMs).toBe(GATE_HEAD_READ_INTERVAL_MS)
  })

  it('error: a limit that is not a positive number names the flag and the environment variable', () => {
    for (const [flags, env, field, flag] of [
      [{ maxConnectionsPerIp: '0' }, {}, 'maxConnectionsPerIp', '--max-connections-per-ip'],
      [{}, { SECURECHAT_MAX_CONNECTIONS_PER_PEER: 'many' }, 'maxConnectionsPerPeer', '--max-connections-per-peer'],
      [{ maxUnreadBytesPerPeer: '0' }, {}, 'maxUnreadBytesPerPeer', '--max-unread-bytes-per-peer'],
      [{ connectionRatePerIp: '-1' }, {}, 'connectionRatePerIp', '--connection-rate-per-ip'],
      [{ reservationTtlMs: '1000' }, {}, 'reservationTtlMs', '--reservation-ttl-ms'],
      [{ maxPendingConnections: '2.5' }, {}, 'maxPendingConnections', '--max-pending-connections'],
      [{ recordsPerSecond: '0' }, {}, 'recordsPerSecond', '--records-per-second'],
      [{}, { SECURECHAT_RECORD_BURST: '1.5' }, 'recordBurst', '--record-burst'],
      [{ controlRecordsPerSecond: 'fast' }, {}, 'controlRecordsPerSecond', '--control-records-per-second'],
      [{ recordFloodBanAfterMs: '10' }, {}, 'recordFloodBanAfterMs', '--record-flood-ban-after-ms'],
      [{}, { SECURECHAT_RECORD_FLOOD_BAN_MS: '-5' }, 'recordFloodBanMs', '--record-flood-ban-ms'],
      [{ maxTierRecordsPerSecond: '0' }, {}, 'maxTierRecordsPerSecond', '--max-tier-records-per-second'],
      [{ gateHeadReadIntervalMs: '-1' }, {}, 'gateHeadReadIntervalMs', '--gate-head-read-interval-ms'],
      [{}, { SECURECHAT_GATE_HEAD_READ_INTERVAL_MS: '0.5' }, 'gateHeadReadIntervalMs', '--gate-head-read-interval-ms'],
      [{ recordFloodBansPerIp: '0' }, {}, 'recordFloodBansPerIp', '--record-flood-bans-per-ip'],
      [{}, { SECURECHAT_READ_RECORDS_IN_FLIGHT: '2.5' }, 'readRecordsInFlight', '--read-records-in-flight'],
    ] as const) {
      const err = refused(() => resolveRelayConfig(flags, env))
      expect(err.details).toMatchObject({ field })
      expect(err.hint).toContain(flag)
    }
  })
})

describe('relay settings: store-query limits', () => {
  it('behavior: every store-query limit comes from a flag, the environment or the config file, flags first, else its default', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'store-query-config-')), 'relay.json')
    await writeFile(file, JSON.stringify({ storeQueryBurst: 50, storeQueriesAtOncePerIp: 6, storeQueriesAtOnce: 20 }))
    const config = resolveRelayConfig(
      { config: file, storeQueriesPerSecond: '2.5', storeQueriesAtOnce: '12' },
      {
        SECURECHAT_STORE_QUERIES_PER_SECOND_PER_IP: '7',
        SECURECHAT_STORE_QUERY_BURST_PER_IP: '70',
        SECURECHAT_STORE_QUERIES_AT_ONCE_PER_PEER: '3',
      },
    )
    expect(config).toMatchObject({
      storeQueriesPerSecond: 2.5,
      storeQueryBurst: 50,
      storeQueriesPerSecondPerIp: 7,
      storeQueryBurstPerIp: 70,
      storeQueriesAtOncePerPeer: 3,
      storeQueriesAtOncePerIp: 6,
      storeQueriesAtOnce: 12,
    })
    const defaults = resolveRelayConfig({}, {})
    expect(defaults.storeQueryBurst).toBeGreaterThan(defaults.storeQueriesPerSecond)
    expect(defaults.storeQueriesPerSecondPerIp).toBeGreaterThanOrEqual(defaults.storeQueriesPerSecond)
    // No one peer, nor one address, takes every place the relay answers at once.
    expect(defaults.storeQueriesAtOncePerPeer).toBeLessThan(defaults.storeQueriesAtOncePerIp)
    expect(defaults.storeQueriesAtOncePerIp).toBeLessThan(defaults.storeQueriesAtOnce)
  })

  it('error: a store-query limit that is not a positive number names the flag and the environment variable', () => {
    for (const [flags, env, field, flag] of [
      [{ storeQueriesPerSecond: '0' }, {}, 'storeQueriesPerSecond', '--store-queries-per-second'],
      [{}, { SECURECHAT_STORE_QUERY_BURST: '1.5' }, 'storeQueryBurst', '--store-query-burst'],
      [{ storeQueriesAtOncePerPeer: 'many' }, {}, 'storeQueriesAtOncePerPeer', '--store-queries-at-once-per-peer'],
      [{}, { SECURECHAT_STORE_QUERIES_AT_ONCE: '-1' }, 'storeQueriesAtOnce', '--store-queries-at-once'],
    ] as const) {
      const err = refused(() => resolveRelayConfig(flags, env))
      expect(err.details).toMatchObject({ field })
      expect(err.hint).toContain(flag)
    }
  })
})

describe('relay settings: the forwarding unit (--sfu and its settings)', () => {
  it('behavior: off by default; flags, environment and config file turn it on and set it, flags first', async () => {
    expect(resolveRelayConfig({}, {})).toMatchObject({
      sfu: false,
      sfuJanusBin: SFU_JANUS_BIN,
      sfuRtpPorts: SFU_RTP_PORTS,
      sfuMaxPublishers: SFU_MAX_PUBLISHERS,
      sfuMaxCalls: SFU_MAX_CALLS,
    })
    expect(resolveRelayConfig({}, {})).not.toHaveProperty('sfuInterface')
    const env = {
      SECURECHAT_SFU: '1',
      SECURECHAT_SFU_RTP_PORTS: '30000-30099',
      SECURECHAT_SFU_INTERFACE: 'eth0',
      SECURECHAT_SFU_PUBLIC_IP: '203.0.113.7',
      SECURECHAT_SFU_MAX_PUBLISHERS: '8',
    }
    expect(resolveRelayConfig({ sfuMaxCalls: '4' }, env)).toMatchObject({
      sfu: true,
      sfuRtpPorts: '30000-30099',
      sfuInterface: 'eth0',
      sfuPublicIp: '203.0.113.7',
      sfuMaxPublishers: 8,
      sfuMaxCalls: 4,
    })
    const dir = await mkdtemp(join(tmpdir(), 'sfu-config-'))
    const file = join(dir, 'relay.json')
    await writeFile(file, JSON.stringify({ sfu: true, sfuJanusBin: '/opt/janus/bin/janus', sfuMaxPublishers: 12 }))
    expect(resolveRelayConfig({ config: file, sfuMaxPublishers: '6' }, {})).toMatchObject({
      sfu: true,
      sfuJanusBin: '/opt/janus/bin/janus',
      sfuMaxPublishers: 6,
    })
  })

  it('error: a port range out of order or of privileged ports, a cap above the protocol, an address that is none', () => {
    expect(refused(() => resolveRelayConfig({ sfuRtpPorts: '20199-20000' }, {})).hint).toContain('--sfu-rtp-ports')
    expect(refused(() => resolveRelayConfig({ sfuRtpPorts: '80-90' }, {})).message).toContain('sfuRtpPorts')
    const cap = refused(() => resolveRelayConfig({}, { SECURECHAT_SFU_MAX_PUBLISHERS: String(MAX_SFU_FEEDS + 1) }))
    expect(cap.hint).toContain('SECURECHAT_SFU_MAX_PUBLISHERS')
    expect(refused(() => resolveRelayConfig({ sfuPublicIp: 'relay.example' }, {})).hint).toContain('--sfu-public-ip')
    expect(refused(() => resolveRelayConfig({ sfuInterface: 'eth0; rm -rf /' }, {})).hint).toContain('--sfu-interface')
  })
})
