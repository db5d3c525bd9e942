import type { PrivateKey } from '@libp2p/interface'
import { ONE_TIME_PREKEY_BATCH_SIZE, SIGNED_PREKEY_ROTATION_MS } from '../crypto/constants.ts'
import {
  addOneTimePrekeys,
  bundleHash,
  createKeyBundle,
  type DeviceEncryptionKeys,
  type DeviceKeys,
  encodeKeyBundle,
  generateDeviceKeys,
  type KeyBundle,
  rotateSignedPrekeys,
} from '../crypto/key-bundle.ts'
import { bytesToHex } from '../crypto/primitives.ts'
import { base64urlEncode } from '../encoding.ts'
import { ONE_TIME_PREKEY_LOW_WATER } from './constants.ts'
import { saveDeviceKeys } from './device.ts'
import type { Vault } from './vault.ts'

/**
 * This device's encryption keys over time: the long-term identity and KEM keys (which the
 * session certificate commits to) never change; signed prekeys rotate every
 * `SIGNED_PREKEY_ROTATION_MS`, one-time prekeys are used up and replenished below
 * {@link ONE_TIME_PREKEY_LOW_WATER}. Every change is saved to the vault (when there is one)
 * and re-signs the public bundle with the PeerId key, which `encryption.bundle` — the object
 * rooms and DMs announce — then carries.
 */
export class DeviceKeyring {
  /** Shared with rooms: `bundle` is kept current. Secret: never logged. */
  readonly encryption: DeviceEncryptionKeys
  /** What the certificate commits to (hex). Fixed for the life of the device keys. */
  readonly bundleHash: string
  readonly #privateKey: PrivateKey
  readonly #vault: Vault | undefined
  #keys: DeviceKeys
  #tail: Promise<unknown> = Promise.resolve()

  private constructor(privateKey: PrivateKey, keys: DeviceKeys, bundle: KeyBundle, vault: Vault | undefined) {
    this.#privateKey = privateKey
    this.#keys = keys
    this.#vault = vault
    this.encryption = { identityKey: keys.identityKey, kemKey: keys.kemKey, bundle: encode(bundle) }
    this.bundleHash = bytesToHex(bundleHash(bundle))
  }

  /**
   * The keyring of `deviceKeys` (fresh keys when absent), with prekeys brought up to date and
   * the bundle signed by `privateKey`; saved to `vault` when anything changed.
   */
  static async open(params: {
    privateKey: PrivateKey
    deviceKeys?: DeviceKeys
    vault?: Vault
  }): Promise<DeviceKeyring> {
    const initial = params.deviceKeys ?? (await generateDeviceKeys())
    const keys = await refresh(initial)
    const keyring = new DeviceKeyring(params.privateKey, keys, await sign(params.privateKey, keys), params.vault)
    if (params.vault !== undefined && (keys !== params.deviceKeys || params.deviceKeys === undefined)) {
      await saveDeviceKeys(params.vault, keys)
    }
    return keyring
  }

  get keys(): DeviceKeys {
    return this.#keys
  }

  /** The current public bundle (base64url), as announced. */
  get bundle(): string {
    return this.encryption.bundle
  }

  /**
   * Replaces the keys (after a one-time prekey was used): tops up one-time prekeys, saves,
   * re-signs the bundle. Updates run one at a time, each from the latest keys.
   */
  update(change: (keys: DeviceKeys) => DeviceKeys | Promise<DeviceKeys>): Promise<void> {
    return this.#serial(async () => {
      const next = await refresh(await change(this.#keys))
      if (next === this.#keys) return
      if (this.#vault !== undefined) await saveDeviceKeys(this.#vault, next)
      this.#keys = next
      this.encryption.bundle = encode(await sign(this.#privateKey, next))
    })
  }

  /** Rotates signed prekeys when due and tops up one-time prekeys (call periodically). */
  maintain(): Promise<void> {
    return this.update((keys) => keys)
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation)
    this.#tail = result.catch(() => undefined)
    return result
  }
}

/** Rotates the signed prekeys when due and adds a batch of one-time prekeys when few are left. */
async function refresh(keys: DeviceKeys): Promise<DeviceKeys> {
  let next = keys
  const newest = next.signedPrekeys.at(-1)
  if (newest === undefined || Date.now() - newest.createdAtMs >= SIGNED_PREKEY_ROTATION_MS) {
    next = await rotateSignedPrekeys({ deviceKeys: next })
  }
  if (next.oneTimePrekeys.length < ONE_TIME_PREKEY_LOW_WATER) {
    next = await addOneTimePrekeys({ deviceKeys: next, count: ONE_TIME_PREKEY_BATCH_SIZE })
  }
  return next
}

function sign(privateKey: PrivateKey, keys: DeviceKeys): Promise<KeyBundle> {
  return createKeyBundle({ deviceKeys: keys, sign: async (data) => privateKey.sign(data) })
}

function encode(bundle: KeyBundle): string {
  return base64urlEncode(encodeKeyBundle(bundle))
}
