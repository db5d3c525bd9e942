/**
 * Bounds and defaults of file transfers (issue 16), with their units. The format's own sizes (segment, header,
 * key) are the crypto layer's: `crypto/constants.ts`.
 */

/** The largest file a manifest may name: 64 GiB. Far below the format's 4 PiB; a share beyond it is refused. */
export const MAX_FILE_BYTES = 64 * 1024 ** 3

/**
 * Bytes of the salt a room message's file commitment is made with (`commitment.ts`): fresh for every share, carried
 * in the encrypted manifest, so the commitment in the public record hides which file it is until a member discloses
 * the salt (docs/audit.md, Files).
 */
export const FILE_SALT_BYTES = 32

/** A file name's longest UTF-8 encoding, as most file systems allow (255 bytes). */
export const MAX_FILE_NAME_BYTES = 255

/** A media type's longest form (RFC 6838 caps type and subtype at 127 characters each; we cap the whole). */
export const MAX_FILE_TYPE_CHARS = 127

/**
 * The associated data every file is encrypted under (Tink's, bound into the segment key): a fixed label and the
 * format's version, so a file's ciphertext cannot be taken for anything else the same key might encrypt, and a
 * later format (another segment size, another layout) is told apart by its own label.
 */
export const FILE_ASSOCIATED_DATA_LABEL = 'securechat/file/v1'

/**
 * How long a download waits without a byte arriving before it gives up with `FileUnavailableError` (bitswap asks
 * connected peers and would otherwise wait forever). Per stall, not per file: a slow transfer that keeps moving
 * is never cut off.
 */
export const FILE_FETCH_STALL_TIMEOUT_MS = 30_000

/**
 * After this long without a block arriving a download asks for its blocks again, before it gives up at
 * `FILE_FETCH_STALL_TIMEOUT_MS`: longer than bitswap's 5 s during which a peer will not send a block again
 * (`stall-timer.ts` says why that matters).
 */
export const FILE_FETCH_RETRY_MS = 6_000

/**
 * How long a peer asked alone for a block (`one-holder.ts`) may send us nothing — neither that block, nor that it has
 * none, nor any other block — before the next peer is asked too. Below `FILE_FETCH_RETRY_MS`, so that a holder gone
 * silent is passed over before the download asks again; a holder sending other blocks is waited for however long.
 */
export const FILE_HOLDER_ANSWER_TIMEOUT_MS = 4_000

/**
 * Peers asked for a block one at a time before it is asked of every connected peer (bitswap's own want): a relay has
 * a thousand peers, and asking each in turn would take a thousand round trips for a block none of them has yet.
 */
export const FILE_HOLDERS_ASKED_IN_TURN = 4

/**
 * Segments (1 MiB blocks) a download asks the network for at once, and again as many read ahead while the reader
 * consumes them: memory is about twice this many segments, whatever the file's size.
 */
export const FILE_FETCH_WINDOW_SEGMENTS = 4

/**
 * The bitswap protocol files travel over. Not IPFS's `/ipfs/bitswap/1.2.0`: a libp2p node takes one handler per
 * protocol, and a relay (or a web app) already runs a Helia for its audit leaf lists on that one; files get their
 * own Helia, blockstore and retention beside it. It also keeps file blocks off the public IPFS exchange.
 */
export const FILES_BITSWAP_PROTOCOL = '/securechat/files/bitswap/1.2.0'

/** A member asks a relay to keep a file (`pin-request.ts`, docs/files.md, Pinning). */
export const FILE_PIN_PROTOCOL = '/securechat/files/pin/1.0.0'

/** Version of the pin request frame. */
export const FILE_PIN_WIRE_VERSION = 1

/** Largest pin request frame: a topic, a CID and a number fit in a fraction of it. */
export const MAX_FILE_PIN_REQUEST_BYTES = 1024

/** Largest answer frame (progress, ok, or a refusal with its message and hint). */
export const MAX_FILE_PIN_ANSWER_BYTES = 2048

/** A topic's longest form in a pin request (room and DM topics are far shorter). */
export const MAX_FILE_PIN_TOPIC_CHARS = 256

/** A refusal's message and hint, at most. */
export const MAX_FILE_PIN_MESSAGE_CHARS = 300

/**
 * How long a pin request waits for the relay's next frame. The relay sends progress while blocks arrive and gives up
 * itself after `FILE_FETCH_STALL_TIMEOUT_MS` without one, so a silence past that and a margin is a relay gone.
 */
export const FILE_PIN_ANSWER_TIMEOUT_MS = FILE_FETCH_STALL_TIMEOUT_MS + 15_000

/**
 * A thumbnail's largest image, in bytes (16 KiB; docs/files.md, Thumbnails). Bound by the record it rides in: the
 * message's envelope holds it in base64url (21,846 characters) beside a caption of up to `MAX_TEXT_BYTES` (16 KiB)
 * and the manifest's other fields, and the record holds the envelope's ciphertext in base64url again (4/3), so the
 * largest of both come to 51.9 KB as a room message (its file commitment and salt with it) and 58.4 KB as a DM's
 * first record (its PQXDH header with it):
 * within `MAX_MESSAGE_BYTES` (64 KiB), which `test/files-share.test.ts` checks by sending them. A caption that JSON
 * escapes past its 16 KiB leaves the thumbnail out (`shareFile`). Twice this would not fit.
 */
export const MAX_THUMBNAIL_BYTES = 16 * 1024

/**
 * A thumbnail's longest side, in pixels, as its image's own header says (not only as the manifest claims): a
 * 16 KiB PNG or WebP could otherwise unpack to a picture of hundreds of megapixels in the receiver's decoder.
 */
export const MAX_THUMBNAIL_SIDE = 320

/** The image types a thumbnail may be: what canvases encode and every browser decodes (never SVG, never GIF). */
export const THUMBNAIL_TYPES = ['image/jpeg', 'image/webp', 'image/png'] as const
