/**
 * Fixtures for the audit tests (here and in test/): records as rooms publish them and an audit log in memory.
 * Not part of the public entry.
 */
import { sha256Hex } from '../crypto/primitives.ts'
import { base64urlEncode, utf8 } from '../encoding.ts'
import type { AnchorRecord, AuditLogReader } from './chain.ts'

export const ROOM = 'a1'.repeat(32)
export const OTHER_ROOM = 'b2'.repeat(32)

/** A message record as a room publishes it: exact JSON text, id = sha256 of its bytes. */
export function record(params: {
  room?: string
  lamport: number
  deps?: string[]
  sentAtMs?: number
  ct?: string
  /** A file commitment (`files/commitment.ts`), as a message that shares a file carries one. */
  fileCommitment?: string
}): {
  text: string
  id: string
} {
  const text = JSON.stringify({
    v: 1,
    type: 'message',
    room: params.room ?? ROOM,
    lamport: params.lamport,
    deps: params.deps ?? [],
    sentAtMs: params.sentAtMs ?? 1_700_000_000_000 + params.lamport,
    ...(params.fileCommitment === undefined ? {} : { fileCommitment: params.fileCommitment }),
    payload: { enc: 'sender-key', ct: params.ct ?? base64urlEncode(utf8.encode(`ciphertext ${params.lamport}`)) },
  })
  return { text, id: sha256Hex(utf8.encode(text)) }
}

/** An audit log in memory: roots anchored at the given blocks. */
export function fakeReader(anchored: Map<string, number> = new Map()): Pick<AuditLogReader, 'anchorOf'> & {
  anchor(root: string, block: number): void
} {
  return {
    anchor: (root, block) => anchored.set(root.toLowerCase(), block),
    anchorOf: async (root): Promise<AnchorRecord | undefined> => {
      const blockNumber = anchored.get(root.toLowerCase())
      return blockNumber === undefined
        ? undefined
        : {
            root: root.toLowerCase() as `0x${string}`,
            anchorer: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
            blockNumber,
            timestamp: 1_700_000_100,
          }
    },
  }
}
