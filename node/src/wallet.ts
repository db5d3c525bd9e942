import { readFile } from 'node:fs/promises'
import { Wallet } from 'ethers'
import { KeyFileError } from './errors.ts'

export interface LoadWalletParams {
  /** A file holding a hex private key or an ethers JSON keystore. */
  keyFile?: string | undefined
  /** Environment to read `SECURECHAT_PRIVATE_KEY` and `SECURECHAT_KEY_PASSWORD` from. */
  env: NodeJS.ProcessEnv
}

/** The wallet a CLI command signs with: `--key-file`, or `SECURECHAT_PRIVATE_KEY`. */
export async function loadWallet(params: LoadWalletParams): Promise<Wallet> {
  if (params.keyFile !== undefined) {
    let text: string
    try {
      text = (await readFile(params.keyFile, 'utf8')).trim()
    } catch (err) {
      throw new KeyFileError(`cannot read the key file ${params.keyFile}`, {
        cause: err,
        hint: 'check the --key-file path',
      })
    }
    if (text.startsWith('{')) return decryptKeystore(text, params.keyFile, params.env)
    return walletFromHex(text, `key file ${params.keyFile}`)
  }
  const fromEnv = params.env.SECURECHAT_PRIVATE_KEY
  if (fromEnv !== undefined && fromEnv !== '') return walletFromHex(fromEnv.trim(), 'SECURECHAT_PRIVATE_KEY')
  throw new KeyFileError('no wallet given', {
    hint: 'pass --key-file <file> (hex private key or JSON keystore) or set SECURECHAT_PRIVATE_KEY; `npm start` prints demo keys',
  })
}

function walletFromHex(text: string, source: string): Wallet {
  const hex = text.startsWith('0x') ? text : `0x${text}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new KeyFileError(`${source} is not a 32-byte hex private key`, {
      hint: 'expected 64 hex digits, optionally 0x-prefixed, or an ethers JSON keystore file',
    })
  }
  return new Wallet(hex)
}

async function decryptKeystore(json: string, file: string, env: NodeJS.ProcessEnv): Promise<Wallet> {
  const password = env.SECURECHAT_KEY_PASSWORD
  if (password === undefined) {
    throw new KeyFileError(`${file} is an encrypted keystore`, { hint: 'set SECURECHAT_KEY_PASSWORD to its password' })
  }
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password)
    return new Wallet(wallet.privateKey)
  } catch (err) {
    throw new KeyFileError(`cannot decrypt the keystore ${file}`, {
      cause: err,
      hint: 'check SECURECHAT_KEY_PASSWORD; the file is unchanged',
    })
  }
}
