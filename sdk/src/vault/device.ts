/**
 * The device's own secrets in the vault: its libp2p key (its PeerId) and its encryption keys
 * (`crypto/key-bundle.ts` DeviceKeys). Entry names are {@link DEVICE_ENTRIES}; the session
 * certificate's entry is named here too but read and written by the client, which knows its
 * schema (identity is above the vault); DM sessions live under `dm/` (`dm/session-store.ts`).
 */
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type DeviceKeys, decodeDeviceKeys, encodeDeviceKeys } from '../crypto/key-bundle.ts'
import { VaultCorruptError, VaultError } from '../errors.ts'
import type { Vault } from './vault.ts'

export const DEVICE_ENTRIES = {
  peerKey: 'device/peer-key',
  keys: 'device/keys',
  certificate: 'device/certificate',
} as const

export interface StoredDevice {
  privateKey: PrivateKey | undefined
  deviceKeys: DeviceKeys | undefined
}

/**
 * What the vault holds of this device. A `privateKey` passed by the caller must be the vault's
 * own (a vault belongs to one device); with none stored, it becomes the vault's.
 */
export async function loadDevice(vault: Vault, privateKey?: PrivateKey): Promise<StoredDevice> {
  const stored = await getDecoded(vault, DEVICE_ENTRIES.peerKey, privateKeyFromProtobuf, 'device key')
  if (stored !== undefined && privateKey !== undefined && !stored.equals(privateKey)) {
    throw new VaultError('this vault belongs to another device key', {
      details: { vaultPeerId: peerIdFromPrivateKey(stored).toString() },
      hint: 'do not pass a device key together with a vault, or use another vault for it',
    })
  }
  if (stored === undefined) return { privateKey: undefined, deviceKeys: undefined }
  const deviceKeys = await getDecoded(vault, DEVICE_ENTRIES.keys, decodeDeviceKeys, 'device encryption keys')
  return { privateKey: stored, deviceKeys }
}

/** Entry `name` decoded, or undefined when the vault holds none; `VaultCorruptError` when it does not decode. */
async function getDecoded<T>(
  vault: Vault,
  name: string,
  decode: (bytes: Uint8Array) => T,
  what: string,
): Promise<T | undefined> {
  const bytes = await vault.get(name)
  if (bytes === undefined) return undefined
  try {
    return decode(bytes)
  } catch (cause) {
    throw new VaultCorruptError(`the ${what} in the vault cannot be decoded`, { cause })
  }
}

/** Stores the device key and its encryption keys. */
export async function saveDevice(
  vault: Vault,
  device: { privateKey: PrivateKey; deviceKeys: DeviceKeys },
): Promise<void> {
  await vault.put(DEVICE_ENTRIES.peerKey, privateKeyToProtobuf(device.privateKey))
  await saveDeviceKeys(vault, device.deviceKeys)
}

export function saveDeviceKeys(vault: Vault, deviceKeys: DeviceKeys): Promise<void> {
  return vault.put(DEVICE_ENTRIES.keys, encodeDeviceKeys(deviceKeys))
}
