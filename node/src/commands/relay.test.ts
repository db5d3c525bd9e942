import { describe, expect, it } from 'vitest'
import { STORE_RETENTION_MS } from '../store/constants.ts'
import { describeFiles, describeStore } from './relay.ts'

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

describe('describeFiles: the files line a relay operator reads at start', () => {
  it('names every quota a pin can meet: in all, per room, per file', () => {
    const GiB = 1024 ** 3
    const line = describeFiles({
      fileTotalQuota: 64 * GiB,
      fileRoomQuota: 4 * GiB,
      fileMaxBytes: 2 * GiB,
      fileRetentionMs: 30 * 24 * 60 * 60 * 1000,
      dataDir: '/srv/relay',
    })
    expect(line).toMatch(/64 GiB in all, 4 GiB per room and 2 GiB per file/)
    expect(line).toContain('--file-room-quota')
  })
})
