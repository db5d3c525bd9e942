import { getAddress, type Provider } from 'ethers'
import { z } from 'zod'
import { bytesToHex, randomBytes, sha256Hex } from '../crypto/primitives.ts'
import { canonicalJson, utf8 } from '../encoding.ts'
import { InvalidInputError, InvalidManifestError } from '../errors.ts'
import { gateRuleSchema } from '../gates/rule.ts'
import { isEoaSignature, verifyContractSignature } from '../identity/certificate.ts'
import type { WalletSigner } from '../identity/signer.ts'
import { recordTimeSchema } from '../json-records.ts'
import type { AbortOptions, Address, RoomAccess, RoomManifest, SignedManifest } from '../types.ts'

const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte address')
const hexSchema = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `${bytes} bytes of lowercase hex`)

export const accessSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('public') }).strict(),
  z.object({ type: z.literal('invite-only') }).strict(),
  /** Token-gated (docs/architecture.md, Token gates): members pass `rule` at a recent block. */
  z.object({ type: z.literal('gated'), rule: gateRuleSchema }).strict(),
]) satisfies z.ZodType<RoomAccess>

export const manifestSchema = z
  .object({
    v: z.literal(1),
    name: z.string().min(1).max(100),
    owner: addressSchema,
    access: accessSchema,
    /** Sender keys distributed over a hybrid X25519 + ML-KEM-768 channel (docs/architecture.md, Encryption). */
    encryption: z.literal('sender-keys'),
    /** SIWE domains whose certificates this room accepts. */
    domains: z.array(z.string().min(1).max(255)).min(1).max(16),
    /** Chain ids whose certificates this room accepts. */
    chainIds: z.array(z.number().int().positive()).min(1).max(16),
    salt: hexSchema(16),
    createdAtMs: recordTimeSchema,
  })
  .strict() satisfies z.ZodType<RoomManifest>

export const signedManifestSchema = z
  .object({ manifest: manifestSchema, signature: z.string().regex(/^0x(?:[0-9a-fA-F]{2})+$/) })
  .strict() satisfies z.ZodType<SignedManifest>

// The types live in the sdk's types module, below every feature; the schemas above must parse to them.
export type { RoomAccess, RoomManifest, SignedManifest }

/** roomId = sha256 of the canonical manifest: a room is self-certifying. */
export function roomIdOf(manifest: RoomManifest): string {
  return sha256Hex(utf8.encode(canonicalJson(manifest)))
}

/** What the owner's wallet shows and signs: readable, and bound to the room id. */
export function manifestSigningText(manifest: RoomManifest): string {
  return `SecureChat room\nname: ${manifest.name}\nowner: ${manifest.owner}\nroom: ${roomIdOf(manifest)}`
}

export interface CreateManifestParams {
  signer: WalletSigner
  name: string
  access?: RoomAccess
  /** SIWE domains whose certificates the room accepts (a web app's `location.host`, a CLI's `localhost`). No default. */
  domains: string[]
  /** Chains whose certificates the room accepts: the chain its members' wallets sign for. No default. */
  chainIds: number[]
  now?: number
  /**
   * 16 bytes, hex; random when absent. A fixed salt (and `now`) gives the same manifest, so the
   * same room id, every time: a devnet's rooms survive its restarts.
   */
  salt?: string
}

export async function createManifest(
  params: CreateManifestParams,
  options: AbortOptions = {},
): Promise<SignedManifest> {
  // The sdk assumes no chain or app: a room names its own, and its members' certificates must match them.
  if (!Array.isArray(params.domains) || params.domains.length === 0) {
    throw new InvalidInputError(
      'createManifest: domains is missing (the SIWE domains whose certificates the room accepts)',
      {
        details: { domains: params.domains },
        hint: "pass domains: the app's domain (a web app's location.host; the CLI signs for 'localhost')",
      },
    )
  }
  if (!Array.isArray(params.chainIds) || params.chainIds.length === 0) {
    throw new InvalidInputError(
      'createManifest: chainIds is missing (the chains whose certificates the room accepts)',
      {
        details: { chainIds: params.chainIds },
        hint: "pass chainIds: the chain its members' wallets sign certificates for (1 for Ethereum mainnet)",
      },
    )
  }
  const owner = await params.signer.getAddress(options)
  const salt = params.salt ?? bytesToHex(randomBytes(16))
  const manifest = manifestSchema.parse({
    v: 1,
    name: params.name,
    owner,
    access: params.access ?? { type: 'public' },
    encryption: 'sender-keys',
    domains: params.domains,
    chainIds: params.chainIds,
    salt,
    createdAtMs: params.now ?? Date.now(),
  })
  const signature = await params.signer.signMessage(manifestSigningText(manifest), options)
  return { manifest, signature }
}

/**
 * Checks a manifest's shape, that it hashes to `roomId` (when given) and that its owner signed
 * it. Contract-wallet owners need a provider. Returns the room id.
 */
export async function verifyManifest(
  input: unknown,
  params: { roomId?: string; provider?: Provider } = {},
): Promise<{ roomId: string; signed: SignedManifest }> {
  const signed = parseSignedManifest(input)
  const roomId = roomIdOf(signed.manifest)
  if (params.roomId !== undefined && params.roomId !== roomId) {
    throw new InvalidManifestError('manifest does not hash to the room id', {
      details: { roomId: params.roomId, actual: roomId },
    })
  }
  const text = manifestSigningText(signed.manifest)
  const owner = getAddress(signed.manifest.owner) as Address
  if (isEoaSignature(text, signed.signature, owner)) return { roomId, signed }
  if (params.provider !== undefined) {
    const ok = await verifyContractSignature({
      provider: params.provider,
      address: owner,
      message: text,
      signature: signed.signature,
    })
    if (ok) return { roomId, signed }
  }
  throw new InvalidManifestError('room manifest is not signed by its owner', { details: { owner, roomId } })
}

/** Offline variant for gossip validation: EOA owners only. */
export function verifyManifestOffline(input: unknown, roomId: string): SignedManifest {
  const signed = parseSignedManifest(input)
  const actual = roomIdOf(signed.manifest)
  if (actual !== roomId)
    throw new InvalidManifestError('manifest does not hash to the room id', { details: { roomId, actual } })
  if (!isEoaSignature(manifestSigningText(signed.manifest), signed.signature, signed.manifest.owner)) {
    throw new InvalidManifestError('room manifest is not signed by its owner', { details: { roomId } })
  }
  return signed
}

function parseSignedManifest(input: unknown): SignedManifest {
  const parsed = signedManifestSchema.safeParse(input)
  if (!parsed.success) {
    throw new InvalidManifestError('malformed room manifest', { details: { issues: parsed.error.issues.slice(0, 5) } })
  }
  return parsed.data
}
