import { utf8 } from '../encoding.ts'
import { FILE_ASSOCIATED_DATA_LABEL } from './constants.ts'

/**
 * The associated data of every file's stream: UTF-8 of `FILE_ASSOCIATED_DATA_LABEL` (`securechat/file/v1`). Not
 * per file: the file key is already fresh per file and the CID names the ciphertext, so the label's work is to
 * keep a file apart from anything else encrypted under the same construction, and to carry the version.
 */
export function fileAssociatedData(): Uint8Array {
  return utf8.encode(FILE_ASSOCIATED_DATA_LABEL)
}
