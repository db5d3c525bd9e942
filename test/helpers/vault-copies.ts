/**
 * A device that stops abruptly, as a vault: a memory backend that copies itself after every write of the entries a
 * test follows — each copy is what a crash right then left on disk —, one whose disk stops for good after a given
 * write, and a backend that opens holding a copy.
 */
import { memoryVaultBackend, type VaultBackend } from '@securechat/sdk/vault'

export type VaultCopy = ReturnType<ReturnType<typeof memoryVaultBackend>['snapshot']>

/** A memory backend that copies itself after every write of an entry whose name starts with `prefix`. */
export function crashPoints(prefix: string): { backend: VaultBackend; copies: VaultCopy[] } {
  const backend = memoryVaultBackend()
  const copies: VaultCopy[] = []
  const put = backend.put.bind(backend)
  backend.put = async (name, value) => {
    await put(name, value)
    if (name.startsWith(prefix)) copies.push(backend.snapshot())
  }
  return { backend, copies }
}

/** A backend holding what `copy` held. */
export function backendOf(copy: VaultCopy): VaultBackend {
  const backend = memoryVaultBackend()
  const open = backend.open.bind(backend)
  backend.open = async () => {
    await open()
    await backend.createHeader(copy.header)
    for (const [name, value] of copy.entries) await backend.put(name, value)
    backend.open = open
  }
  return backend
}

/**
 * A memory backend whose disk can be made to stop: after `dieAfter(n)`, the `n`-th write of an entry whose name
 * starts with `prefix` lands, then it and every later write never complete, so the device does nothing that waits
 * for one (a ratchet message is published only once its session is saved). `dieAfter` resolves with what the disk
 * then held.
 */
export function dyingDisk(prefix: string): { backend: VaultBackend; dieAfter: (n: number) => Promise<VaultCopy> } {
  const backend = memoryVaultBackend()
  const put = backend.put.bind(backend)
  let left = Number.POSITIVE_INFINITY
  let dead = false
  let die: (copy: VaultCopy) => void = () => {}
  backend.put = async (name, value) => {
    if (dead) return new Promise<void>(() => {})
    await put(name, value)
    if (name.startsWith(prefix) && --left === 0) {
      dead = true
      die(backend.snapshot())
      return new Promise<void>(() => {})
    }
  }
  const dieAfter = (n: number): Promise<VaultCopy> =>
    new Promise((resolve) => {
      left = n
      die = resolve
    })
  return { backend, dieAfter }
}
