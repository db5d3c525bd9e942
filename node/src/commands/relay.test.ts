import { describe, expect, it } from 'vitest'
import { STORE_RETENTION_MS } from '../store/constants.ts'
import { describeStore } from './relay.ts'

describe('describeStore: the line a relay operator reads at start', () => {
  it('names the SQLite file under the data dir and the retention in days', () => {
    expect(describeStore({ store: 'sqlite', storeMaxAgeMs: STORE_RETENTION_MS, dataDir: '/srv/relay' })).toBe(
      "Keeping rooms' and DMs' encrypted history for 30 days in /srv/relay/store.sqlite (--store, --store-max-age-ms).",
    )
  })

  it('never prints the PostgreSQL password', () => {
    const line = describeStore({
      store: 'postgres://chat:s3cret@db.example/securechat',
      storeMaxAgeMs: 36 * 60 * 60 * 1000,
      dataDir: '/srv/relay',
    })
    expect(line).toContain('PostgreSQL postgres://db.example/securechat')
    expect(line).toContain('1.5 days')
    expect(line).not.toContain('s3cret')
  })

  it('says what --store none costs', () => {
    expect(describeStore({ store: 'none', storeMaxAgeMs: STORE_RETENTION_MS, dataDir: '/srv/relay' })).toMatch(
      /no history.*cannot catch up/,
    )
  })
})
