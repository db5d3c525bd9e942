// Hardhat 3: compiles and tests `contracts/` offline with the solc-js build from the npm package `solc`.
// App code is tested by vitest in `test/` and `*/src`; Hardhat's mocha runner only sees `contracts/test/`.
import { createRequire } from 'node:module'
import hardhatEthers from '@nomicfoundation/hardhat-ethers'
import hardhatEthersChaiMatchers from '@nomicfoundation/hardhat-ethers-chai-matchers'
import hardhatMocha from '@nomicfoundation/hardhat-mocha'
import hardhatNetworkHelpers from '@nomicfoundation/hardhat-network-helpers'
import { defineConfig } from 'hardhat/config'

const require = createRequire(import.meta.url)

// Hardhat would download solc (no internet here). It does not check that `path` matches `version`,
// so the version is read from the very package whose soljson.js we hand it.
const SOLC_VERSION: string = require('solc/package.json').version
const SOLC_PATH: string = require.resolve('solc/soljson.js')

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNetworkHelpers],
  solidity: {
    profiles: {
      default: {
        version: SOLC_VERSION,
        path: SOLC_PATH,
        // OpenZeppelin 5 needs cancun opcodes (mcopy, transient storage).
        settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 } },
      },
      production: {
        version: SOLC_VERSION,
        path: SOLC_PATH,
        settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 } },
      },
    },
  },
  paths: {
    sources: 'contracts',
    // Keep Hardhat out of the root `test/` folder, which belongs to vitest.
    tests: { mocha: 'contracts/test', solidity: 'contracts/test' },
  },
})
