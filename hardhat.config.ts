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

const SOLC_PROFILE = {
  version: SOLC_VERSION,
  path: SOLC_PATH,
  // Each contract in its own compilation job: the metadata hash at the end of the bytecode covers the job's
  // remappings, so batching files together would make the committed bindings depend on the incremental build history.
  isolated: true,
  // OpenZeppelin 5 needs cancun opcodes (mcopy, transient storage).
  settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 } },
}

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNetworkHelpers],
  solidity: {
    // `hardhat build` and `hardhat test` use `default`; `--build-profile production` gets the same bytecode.
    profiles: { default: SOLC_PROFILE, production: SOLC_PROFILE },
  },
  paths: {
    sources: 'contracts',
    // Keep Hardhat out of the root `test/` folder, which belongs to vitest.
    tests: { mocha: 'contracts/test', solidity: 'contracts/test' },
  },
})
