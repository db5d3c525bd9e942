import { defineConfig } from 'vitest/config'

/**
 * Run last, by itself: fifty real clients and a relay in one test, on the same two cores. Beside a browser test it
 * measures how the machine shares its CPU (clients that cannot finish a handshake in time), not what a relay does for
 * fifty people behind one address, each on a device of their own.
 */
const ALONE = ['test/one-address.test.ts']

export default defineConfig({
  test: {
    // Multi-node tests start real libp2p nodes and processes; two cores run them one file at a time per worker.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['sdk/src/**/*.test.ts', 'node/src/**/*.test.ts', 'web/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ALONE,
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
})
