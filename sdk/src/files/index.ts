/**
 * `@securechat/sdk/files`: files shared in rooms and DMs (issue 16). A file is encrypted as a stream
 * (`crypto/file-stream.ts`) into UnixFS blocks on a Helia node with bitswap, which peers fetch from the sender and
 * from the relays that pinned it; the manifest a message carries names its CID, size, type, name, key and
 * SHA-256. docs/files.md has how a file moves and what each party sees.
 */
export { type AddFileOptions, addFile, type FilesHelia } from './add-file.ts'
export { fileAssociatedData } from './associated-data.ts'
export { type CatFileOptions, catFile, type FilesReader } from './cat-file.ts'
export { commitToFile, createFileSalt, fileCommitment, fileCommitmentProblem, sha256OfStream } from './commitment.ts'
export {
  FILE_ASSOCIATED_DATA_LABEL,
  FILE_FETCH_STALL_TIMEOUT_MS,
  FILE_FETCH_WINDOW_SEGMENTS,
  FILE_PIN_PROTOCOL,
  FILE_SALT_BYTES,
  FILES_BITSWAP_PROTOCOL,
  MAX_FILE_BYTES,
  MAX_FILE_NAME_BYTES,
  MAX_FILE_PIN_ANSWER_BYTES,
  MAX_FILE_PIN_REQUEST_BYTES,
  MAX_FILE_TYPE_CHARS,
  MAX_THUMBNAIL_BYTES,
  MAX_THUMBNAIL_SIDE,
  THUMBNAIL_TYPES,
} from './constants.ts'
export {
  FILE_PIN_REFUSAL_REASONS,
  FileIntegrityError,
  FileNotKeptError,
  type FilePinRefusalReason,
  FilePinRefusedError,
  FilePinRequestError,
  FileUnavailableError,
  InvalidFileManifestError,
} from './errors.ts'
export {
  type FetchedFileBlocks,
  type FetchFileBlocksOptions,
  FILE_BLOCKS_FETCHED_AT_ONCE,
  fetchFileBlocks,
  fileDagBudget,
} from './fetch-blocks.ts'
export { createFilesHelia, type FilesHeliaInit } from './helia.ts'
export {
  FILE_MANIFEST_VERSION,
  type FileManifest,
  fileCidOf,
  fileCidSchema,
  fileKeyOf,
  fileManifestSchema,
  parseFileCid,
  parseFileManifest,
  receivedFileManifestSchema,
} from './manifest.ts'
export { fileDagWalker, hasPin, type PinFileOptions, pinFile, pinLocalDag, unpinFile } from './pin-file.ts'
export { type RequestPinOptions, requestPin } from './pin-request.ts'
export {
  type Decoded,
  decodeFilePinFrame,
  decodeFilePinRequest,
  encodeFilePinFrame,
  encodeFilePinRequest,
  type FilePinFrame,
  type FilePinRequest,
  MAX_FILE_PIN_BYTES,
} from './pin-wire.ts'
export type { FileProgressListener, FileTransferProgress } from './progress.ts'
export {
  type FileThumbnail,
  fileThumbnailSchema,
  imageSize,
  MAX_THUMBNAIL_DATA_CHARS,
  makeThumbnail,
  thumbnailBytes,
} from './thumbnail.ts'
