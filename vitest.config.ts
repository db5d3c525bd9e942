import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['sdk/src/**/*.test.ts', 'node/src/**/*.test.ts', 'web/src/**/*.test.ts', 'test/**/*.test.ts'],
    // Multi-node tests start real libp2p nodes and processes; two cores run them one file at a time per worker.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
