#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping). The version check comes first
// and the sources load after it: an older Node would fail on them with "Unknown file extension .ts".
import '../../scripts/check-node.cjs'

const { main } = await import('../src/cli.ts')
process.exit(await main(process.argv))
