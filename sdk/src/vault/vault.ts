/**
 * The local vault (docs/architecture.md, Local vault): named entries of secret bytes — the libp2p key,
 * device keys, Double Ratchet states, certificates — each encrypted under one AES-256-GCM key
 * that never leaves WebCrypto (non-extractable), derived from a passphrase or from the wallet.
 *
 * Format (one header, any number of entries; the backend decides where they live: a file in
 * the data dir on Node, IndexedDB in the browser):
 *
 * ```
 * header = { format: "securechat-vault", version: 1, id: b64url(16 random bytes),
 *            kdf: { type: "argon2id", salt, memoryKiB, timeCost, parallelism }
 *               | { type: "wallet", address, salt },
 *            check: b64url(AES-GCM(key, "SecureChat/vault/v1/check", AD = canonical JSON of the header without check)) }
 * entry  = nonce (12) || AES-256-GCM(key, value) || tag (16),
 *          AD = "SecureChat/vault/v1/entry\n" || id || "\n" || name
 * ```
 *
 * Key derivation: `ikm` = Argon2id(NFKC(passphrase), salt, cost from the header) for a passphrase
 * (RFC 9106; cost {@link VAULT_ARGON2ID}), or the wallet's EIP-191 signature of
 * {@link walletVaultMessage} (a fixed, domain-separated text that is not a SIWE message); then
 * HKDF-SHA-256(ikm, salt, info = "SecureChat/vault/v1/<method>") → AES-256-GCM, inside WebCrypto.
 *
 * The `check` value tells a wrong passphrase or wallet ({@link WrongPassphraseError},
 * {@link WrongWalletError}) from a damaged entry ({@link VaultCorruptError}) before anything is
 * written; it also authenticates the header. Each entry's associated data binds the vault id and
 * its name, so entries cannot be swapped between names or vaults. Not covered: someone who can
 * write the disk can roll the whole vault back to an older copy (as with any stored ratchet).
 */

import { Signature } from 'ethers'
import { z } from 'zod'
import {
  type Argon2idParams,
  aesGcmUnwrap,
  aesGcmWrap,
  argon2id,
  deriveWrappingKey,
  equalBytes,
  randomBytes,
  wipe,
} from '../crypto/primitives.ts'
import { base64urlDecode, base64urlEncode, canonicalJson, utf8 } from '../encoding.ts'
import {
  InvalidInputError,
  VaultBusyError,
  VaultCorruptError,
  VaultError,
  VaultLockedError,
  WrongPassphraseError,
  WrongWalletError,
} from '../errors.ts'
import type { AbortOptions, Address, WalletSigner } from '../types.ts'
import {
  VAULT_ARGON2ID,
  VAULT_ARGON2ID_MAX_MEMORY_KIB,
  VAULT_ARGON2ID_MIN,
  VAULT_FORMAT,
  VAULT_FORMAT_VERSION,
  VAULT_MIN_PASSPHRASE_LENGTH,
  VAULT_SALT_BYTES,
} from './constants.ts'

/**
 * Where a vault's header and sealed entries live. Implementations: {@link memoryVaultBackend},
 * `platformVaultBackend` (a file on Node, IndexedDB in the browser). A backend stores what it is
 * given and never interprets it; `open` takes an exclusive lock (`VaultBusyError`).
 */
export interface VaultBackend {
  /** Takes the exclusive lock and loads what is stored; throws `VaultBusyError`, `VaultCorruptError`. */
  open(): Promise<void>
  /** The stored header (a JSON value), or undefined when there is no vault yet. */
  readHeader(): Promise<unknown>
  /** Writes the header of a new vault; the backend refuses to replace an existing one. */
  createHeader(header: unknown): Promise<void>
  get(name: string): Promise<Uint8Array | undefined>
  /** Resolves once the value is durable. */
  put(name: string, value: Uint8Array): Promise<void>
  delete(name: string): Promise<void>
  list(): Promise<string[]>
  /** Releases the lock. Idempotent. */
  close(): Promise<void>
}

/** How the vault key is derived: a passphrase, or a signature of the wallet. */
export type VaultUnlock =
  | { type: 'passphrase'; passphrase: string }
  | { type: 'wallet'; signer: WalletSigner }
  /**
   * The vault's own key, as {@link Vault.unlockKey} gave it earlier: a browser keeps this
   * non-extractable CryptoKey in IndexedDB so a reload opens the vault without a wallet prompt.
   */
  | { type: 'key'; key: CryptoKey }

export interface OpenVaultParams {
  backend: VaultBackend
  unlock: VaultUnlock
  /** Create a new vault when the backend holds none (default: true). */
  create?: boolean
  /** Argon2id cost of a new passphrase vault; default {@link VAULT_ARGON2ID}. */
  argon2id?: Argon2idParams
}

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/)
const kdfSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('argon2id'),
      salt: b64url,
      memoryKiB: z.number().int().min(VAULT_ARGON2ID_MIN.memoryKiB).max(VAULT_ARGON2ID_MAX_MEMORY_KIB),
      timeCost: z.number().int().min(VAULT_ARGON2ID_MIN.timeCost).max(100),
      parallelism: z.number().int().min(1).max(16),
    })
    .strict(),
  z
    .object({
      type: z.literal('wallet'),
      address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
      salt: b64url,
    })
    .strict(),
])
const headerSchema = z
  .object({
    format: z.literal(VAULT_FORMAT),
    version: z.number().int(),
    id: b64url,
    kdf: kdfSchema,
    check: b64url,
  })
  .strict()
export type VaultHeader = z.infer<typeof headerSchema>
type VaultKdf = VaultHeader['kdf']

const CHECK_PLAINTEXT = utf8.encode('SecureChat/vault/v1/check')
const ENTRY_AD_LABEL = 'SecureChat/vault/v1/entry'
const NAME_PATTERN = /^[A-Za-z0-9_.:/-]{1,256}$/

/**
 * The text a wallet signs to derive its vault key. Fixed per address, so the same wallet opens
 * its vault on every start; it is not a SIWE message, so it cannot be confused with a session
 * certificate, and it says what it unlocks.
 */
export function walletVaultMessage(address: string): string {
  return [
    'SecureChat vault key',
    '',
    `Sign to unlock the encryption keys and messages SecureChat keeps on this device for ${address}.`,
    'Sign this only in SecureChat: whoever holds this signature can open the vault.',
    '',
    `Address: ${address}`,
    'Version: 1',
  ].join('\n')
}

/** Opens (or, by default, creates) the vault in `backend`. Nothing is written unless it is new. */
export async function openVault(params: OpenVaultParams, options: AbortOptions = {}): Promise<Vault> {
  const { backend } = params
  await backend.open()
  try {
    const stored = await backend.readHeader()
    options.signal?.throwIfAborted()
    if (stored === undefined) {
      if (params.create === false) {
        throw new VaultError('there is no vault here', { hint: 'create one first (open it with create: true)' })
      }
      return await createVault(backend, params, options)
    }
    const parsed = headerSchema.safeParse(stored)
    if (!parsed.success) {
      throw new VaultCorruptError('the vault header is damaged or not a SecureChat vault', {
        details: { issue: parsed.error.issues[0]?.message },
        hint: 'restore the vault from a backup; it was left as it is',
      })
    }
    const header = parsed.data
    if (header.version !== VAULT_FORMAT_VERSION) {
      throw new VaultCorruptError(`vault format version ${header.version} is not supported`, {
        details: { version: header.version, supported: VAULT_FORMAT_VERSION },
        hint: 'open it with the SecureChat version that wrote it',
      })
    }
    const key = await deriveKey(header.kdf, params.unlock, options)
    try {
      await aesGcmUnwrap({
        key,
        wrapped: base64urlDecode(header.check),
        associatedData: headerAssociatedData(header),
      })
    } catch {
      throw params.unlock.type === 'key' ? staleStoredKeyError() : wrongKeyError(header.kdf)
    }
    return new Vault(backend, header.id, key, false)
  } catch (err) {
    await backend.close()
    throw err
  }
}

/** A key kept from an earlier unlock ({@link Vault.unlockKey}) that opens no vault here (any more). */
function staleStoredKeyError(): VaultError {
  return new VaultError('the stored vault key opens no vault here', {
    details: { unlock: 'key' },
    hint: 'forget the stored key and unlock with the wallet or the passphrase; the vault was not changed',
  })
}

async function createVault(backend: VaultBackend, params: OpenVaultParams, options: AbortOptions): Promise<Vault> {
  const salt = base64urlEncode(randomBytes(VAULT_SALT_BYTES))
  const { unlock } = params
  let kdf: VaultKdf
  if (unlock.type === 'passphrase') {
    if (unlock.passphrase.normalize('NFKC').length < VAULT_MIN_PASSPHRASE_LENGTH) {
      throw new InvalidInputError(`the vault passphrase is shorter than ${VAULT_MIN_PASSPHRASE_LENGTH} characters`, {
        details: { minimum: VAULT_MIN_PASSPHRASE_LENGTH },
        hint: 'choose a longer passphrase (a few random words)',
      })
    }
    kdf = { type: 'argon2id', salt, ...(params.argon2id ?? VAULT_ARGON2ID) }
  } else if (unlock.type === 'wallet') {
    kdf = { type: 'wallet', address: await unlock.signer.getAddress(options), salt }
  } else {
    throw staleStoredKeyError()
  }
  const key = await deriveKey(kdf, unlock, options, { confirmDeterministic: true })
  const unsigned = { format: VAULT_FORMAT, version: VAULT_FORMAT_VERSION, id: base64urlEncode(randomBytes(16)), kdf }
  const check = await aesGcmWrap({
    key,
    plaintext: CHECK_PLAINTEXT,
    associatedData: headerAssociatedData(unsigned),
  })
  const header: VaultHeader = { ...unsigned, check: base64urlEncode(check) }
  await backend.createHeader(header)
  return new Vault(backend, header.id, key, true)
}

async function deriveKey(
  kdf: VaultKdf,
  unlock: VaultUnlock,
  options: AbortOptions,
  create: { confirmDeterministic?: boolean } = {},
): Promise<CryptoKey> {
  if (unlock.type === 'key') return unlock.key
  const salt = base64urlDecode(kdf.salt)
  if (kdf.type === 'argon2id') {
    if (unlock.type !== 'passphrase') {
      throw new VaultLockedError('this vault is locked with a passphrase', {
        details: { method: 'passphrase' },
        hint: 'give its passphrase (the CLI reads SECURECHAT_VAULT_PASSPHRASE)',
      })
    }
    const ikm = await argon2id({ password: utf8.encode(unlock.passphrase.normalize('NFKC')), salt, cost: kdf })
    options.signal?.throwIfAborted()
    try {
      return await deriveWrappingKey({ ikm, salt, info: utf8.encode('SecureChat/vault/v1/passphrase') })
    } finally {
      wipe(ikm)
    }
  }
  if (unlock.type !== 'wallet') {
    throw new VaultLockedError(`this vault is locked with the wallet ${kdf.address}`, {
      details: { method: 'wallet', address: kdf.address },
      hint: 'open it with that wallet (the CLI does so when SECURECHAT_VAULT_PASSPHRASE is not set)',
    })
  }
  const address = await unlock.signer.getAddress(options)
  if (address.toLowerCase() !== kdf.address.toLowerCase()) {
    throw new WrongWalletError(`this vault belongs to ${kdf.address}, not ${address}`, {
      details: { vaultAddress: kdf.address, address },
      hint: 'sign in with the wallet that created it, or use another data directory',
    })
  }
  const message = walletVaultMessage(kdf.address as Address)
  const ikm = signatureBytes(await unlock.signer.signMessage(message, options))
  try {
    if (create.confirmDeterministic === true) {
      // The key must come back on every start: refuse a wallet whose signatures vary.
      const again = signatureBytes(await unlock.signer.signMessage(message, options))
      const same = equalBytes(again, ikm)
      wipe(again)
      if (!same) {
        throw new VaultError('this wallet does not sign deterministically, so it cannot derive a vault key', {
          hint: 'protect the vault with a passphrase instead',
        })
      }
    }
    return await deriveWrappingKey({ ikm, salt, info: utf8.encode('SecureChat/vault/v1/wallet') })
  } finally {
    wipe(ikm)
  }
}

/** The signature as bytes; ECDSA ones in canonical form (low s, v = 27/28). */
function signatureBytes(signature: string): Uint8Array {
  const hex = signature.startsWith('0x') ? signature.slice(2) : signature
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new InvalidInputError('the wallet returned a signature that is not hex')
  if (hex.length === 130) {
    try {
      return hexBytes(Signature.from(`0x${hex}`).serialized.slice(2))
    } catch {
      // Not a recoverable ECDSA signature (a contract wallet's): use its bytes as they are.
    }
  }
  return hexBytes(hex)
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16))
}

function headerAssociatedData(header: Omit<VaultHeader, 'check'>): Uint8Array {
  const { format, version, id, kdf } = header
  return utf8.encode(canonicalJson({ format, version, id, kdf }))
}

function wrongKeyError(kdf: VaultKdf): VaultError {
  if (kdf.type === 'argon2id') {
    return new WrongPassphraseError('the passphrase does not open this vault', {
      hint: 'check the passphrase (SECURECHAT_VAULT_PASSPHRASE for the CLI); the vault was not changed',
    })
  }
  return new WrongWalletError(`the signature of ${kdf.address} does not open this vault`, {
    details: { address: kdf.address },
    hint: 'the wallet must sign deterministically (RFC 6979) or the vault header was modified; the vault was not changed',
  })
}

/**
 * An open vault. Values are encrypted before they reach the backend and authenticated when
 * read back; writes of one vault run one at a time, in call order.
 */
export class Vault {
  readonly id: string
  /** True when {@link openVault} created this vault (nothing stored yet). */
  readonly created: boolean
  readonly #backend: VaultBackend
  readonly #key: CryptoKey
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  /** {@link putLatest} writes not started yet, by name: later calls replace `value` and share `done`. */
  readonly #latest = new Map<string, LatestWrite>()

  constructor(backend: VaultBackend, id: string, key: CryptoKey, created: boolean) {
    this.#backend = backend
    this.id = id
    this.#key = key
    this.created = created
  }

  /**
   * The non-extractable key that opens this vault (`unlock: { type: 'key' }`). Script can use it
   * but never read its bytes; keep it only where the vault itself lives (IndexedDB of the origin).
   */
  get unlockKey(): CryptoKey {
    return this.#key
  }

  /** The value stored under `name`; throws `VaultCorruptError` when it does not authenticate. */
  async get(name: string): Promise<Uint8Array | undefined> {
    this.#check(name)
    await this.#tail
    const sealed = await this.#backend.get(name)
    if (sealed === undefined) return undefined
    try {
      return await aesGcmUnwrap({ key: this.#key, wrapped: sealed, associatedData: this.#entryAd(name) })
    } catch (cause) {
      throw new VaultCorruptError(`the vault entry ${name} does not authenticate`, {
        details: { name },
        cause,
        hint: 'the file was damaged or edited; the entry was left as it is',
      })
    }
  }

  /** Encrypts and stores `value` under `name`; resolves once it is durable. */
  put(name: string, value: Uint8Array): Promise<void> {
    this.#check(name)
    return this.#serial(async () => {
      const sealed = await aesGcmWrap({ key: this.#key, plaintext: value, associatedData: this.#entryAd(name) })
      await this.#backend.put(name, sealed)
    })
  }

  /**
   * Stores what `value()` returns when the write runs, `delayMs` from the first call at the
   * latest: calls for the same name before then share that one write (the latest `value` wins,
   * the earliest deadline holds). For state that changes with every message, saved off the
   * caller's path and at most once per delay. Resolves once that write is durable; `close` and
   * {@link flush} write it at once, `delete` of the name drops it.
   */
  putLatest(name: string, value: () => Uint8Array, options: { delayMs?: number } = {}): Promise<void> {
    this.#check(name)
    if (this.#closed) return Promise.reject(new VaultError('the vault is closed'))
    const dueAtMs = Date.now() + (options.delayMs ?? 0)
    const pending = this.#latest.get(name)
    if (pending !== undefined) {
      pending.value = value
      if (dueAtMs < pending.dueAtMs) this.#scheduleLatest(name, pending, dueAtMs)
      return pending.done
    }
    let settle!: (result: Promise<void>) => void
    const done = new Promise<void>((resolve) => {
      settle = resolve
    })
    const write: LatestWrite = { value, dueAtMs, timer: undefined, started: false, done, settle }
    this.#latest.set(name, write)
    this.#scheduleLatest(name, write, dueAtMs)
    return done
  }

  /**
   * Starts every pending {@link putLatest} write now (of the names starting with `prefix`, when given); resolves
   * once all are durable. A write queued after this call lands after them: the vault writes in order.
   */
  async flush(prefix = ''): Promise<void> {
    const pending = [...this.#latest].filter(([name]) => name.startsWith(prefix))
    for (const [name, write] of pending) this.#startLatest(name, write)
    await Promise.all(pending.map(([, write]) => write.done.catch(() => undefined)))
  }

  #scheduleLatest(name: string, write: LatestWrite, dueAtMs: number): void {
    clearTimeout(write.timer)
    write.dueAtMs = dueAtMs
    write.timer = setTimeout(() => this.#startLatest(name, write), Math.max(0, dueAtMs - Date.now()))
  }

  #startLatest(name: string, write: LatestWrite): void {
    clearTimeout(write.timer)
    if (write.started) return
    write.started = true
    write.settle(
      this.#serial(async () => {
        // From here on a call needs a write of its own: this one reads the value now.
        if (this.#latest.get(name) === write) this.#latest.delete(name)
        const plaintext = write.value()
        try {
          const sealed = await aesGcmWrap({ key: this.#key, plaintext, associatedData: this.#entryAd(name) })
          await this.#backend.put(name, sealed)
        } finally {
          wipe(plaintext)
        }
      }),
    )
  }

  async getJson<T>(name: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const bytes = await this.get(name)
    if (bytes === undefined) return undefined
    let json: unknown
    try {
      json = JSON.parse(utf8.decode(bytes))
    } catch (cause) {
      throw new VaultCorruptError(`the vault entry ${name} is not JSON`, { details: { name }, cause })
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      throw new VaultCorruptError(`the vault entry ${name} has an unexpected shape`, {
        details: { name, issue: parsed.error.issues[0]?.message },
      })
    }
    return parsed.data
  }

  putJson(name: string, value: unknown): Promise<void> {
    return this.put(name, utf8.encode(JSON.stringify(value)))
  }

  /** Deletes `name`, and a {@link putLatest} write of it that has not started (it resolves). */
  delete(name: string): Promise<void> {
    this.#check(name)
    const pending = this.#latest.get(name)
    if (pending !== undefined && !pending.started) {
      pending.started = true
      clearTimeout(pending.timer)
      pending.settle(Promise.resolve())
    }
    this.#latest.delete(name)
    return this.#serial(() => this.#backend.delete(name))
  }

  /** Names of the stored entries that start with `prefix`. */
  async list(prefix = ''): Promise<string[]> {
    await this.#tail
    return (await this.#backend.list()).filter((name) => name.startsWith(prefix)).sort()
  }

  /** Waits for pending writes and releases the backend's lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    await this.#tail
    await this.#backend.close()
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new VaultError('the vault is closed'))
    const result = this.#tail.then(operation)
    this.#tail = result.catch(() => undefined)
    return result
  }

  #check(name: string): void {
    if (!NAME_PATTERN.test(name)) {
      throw new InvalidInputError('invalid vault entry name', {
        details: { name, pattern: NAME_PATTERN.source },
      })
    }
  }

  #entryAd(name: string): Uint8Array {
    return utf8.encode(`${ENTRY_AD_LABEL}\n${this.id}\n${name}`)
  }
}

/** A {@link Vault.putLatest} write waiting for its deadline (or for the writes queued before it). */
interface LatestWrite {
  value: () => Uint8Array
  dueAtMs: number
  timer: ReturnType<typeof setTimeout> | undefined
  started: boolean
  done: Promise<void>
  settle: (result: Promise<void>) => void
}

/** A vault backend in memory: for tests, and for clients that must leave nothing behind. */
export function memoryVaultBackend(): VaultBackend & {
  snapshot(): { header: unknown; entries: Map<string, Uint8Array> }
} {
  let header: unknown
  const entries = new Map<string, Uint8Array>()
  let open = false
  return {
    async open() {
      if (open) throw new VaultBusyError('this memory vault is already open')
      open = true
    },
    async readHeader() {
      return header === undefined ? undefined : structuredClone(header)
    },
    async createHeader(value) {
      if (header !== undefined) throw new VaultError('a vault already exists here')
      header = structuredClone(value)
    },
    async get(name) {
      return entries.get(name)?.slice()
    },
    async put(name, value) {
      entries.set(name, value.slice())
    },
    async delete(name) {
      entries.delete(name)
    },
    async list() {
      return [...entries.keys()]
    },
    async close() {
      open = false
    },
    snapshot() {
      return { header: structuredClone(header), entries: new Map([...entries].map(([k, v]) => [k, v.slice()])) }
    },
  }
}
