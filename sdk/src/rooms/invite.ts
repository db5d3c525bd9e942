import { z } from 'zod'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { multiaddrTextSchema } from '../multiaddr-text.ts'
import { type SignedManifest, signedManifestSchema } from './manifest.ts'

/** Invites are `securechat:` followed by base64url JSON: the signed manifest and relay hints. */
export const INVITE_PREFIX = 'securechat:'

const inviteSchema = z
  .object({
    manifest: signedManifestSchema,
    /** Multiaddrs of relays that carry the room; a hint, not a trust anchor. */
    relays: z.array(multiaddrTextSchema).max(16).optional(),
  })
  .strict()
export type Invite = z.infer<typeof inviteSchema>

export function encodeInvite(params: { manifest: SignedManifest; relays?: string[] }): string {
  const invite: Invite = params.relays?.length
    ? { manifest: params.manifest, relays: params.relays }
    : { manifest: params.manifest }
  return `${INVITE_PREFIX}${base64urlEncode(utf8.encode(JSON.stringify(invite)))}`
}

/** Parses an invite's shape. The manifest's signature is checked when the room is joined. */
export function decodeInvite(text: string): Invite {
  const trimmed = text.trim()
  if (!trimmed.startsWith(INVITE_PREFIX)) {
    throw new InvalidInputError(`an invite starts with "${INVITE_PREFIX}"`, {
      details: { received: trimmed.slice(0, 24) },
      hint: 'paste the whole invite printed by `securechat room create`',
    })
  }
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(base64urlDecode(trimmed.slice(INVITE_PREFIX.length))))
  } catch (err) {
    throw new InvalidInputError('the invite is damaged (not base64url JSON)', {
      cause: err,
      hint: 'copy the invite again',
    })
  }
  const parsed = inviteSchema.safeParse(json)
  if (!parsed.success) {
    throw new InvalidInputError('the invite is damaged (unexpected content)', {
      details: { issues: parsed.error.issues.slice(0, 5) },
      hint: 'copy the invite again',
    })
  }
  return parsed.data
}
