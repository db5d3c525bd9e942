#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping).
import { main } from '../src/cli.ts'

process.exit(await main(process.argv))
