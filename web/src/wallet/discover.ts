import type { Eip1193Provider } from '@securechat/sdk/identity'

/** A wallet the page can use: one EIP-6963 announcement, or the legacy `window.ethereum`. */
export interface WalletChoice {
  /** EIP-6963 reverse-DNS id (`io.metamask`), or `injected` for `window.ethereum`. */
  rdns: string
  name: string
  /** A data: URI from the wallet itself (EIP-6963 requires one). */
  icon: string | undefined
  provider: Eip1193Provider & EventfulProvider
}

export interface EventfulProvider {
  on?(event: string, listener: (...args: unknown[]) => void): void
  removeListener?(event: string, listener: (...args: unknown[]) => void): void
}

interface Eip6963Detail {
  info: { uuid: string; name: string; icon: string; rdns: string }
  provider: WalletChoice['provider']
}

/**
 * Discovers wallets with EIP-6963 (each announces itself when asked, normally at once), falling
 * back to `window.ethereum` when none has announced within `waitMs`. Wallets that answered are
 * returned after `settleMs`, without waiting the whole `waitMs`.
 */
export function discoverWallets(waitMs = 250, settleMs = 30): Promise<WalletChoice[]> {
  const found = new Map<string, WalletChoice>()
  const onAnnounce = (event: Event): void => {
    const detail = (event as CustomEvent<Eip6963Detail>).detail
    if (typeof detail?.info?.rdns !== 'string' || typeof detail.provider?.request !== 'function') return
    const icon = detail.info.icon.startsWith('data:image/') ? detail.info.icon : undefined
    found.set(detail.info.rdns, { rdns: detail.info.rdns, name: detail.info.name, icon, provider: detail.provider })
  }
  window.addEventListener('eip6963:announceProvider', onAnnounce)
  window.dispatchEvent(new Event('eip6963:requestProvider'))
  return new Promise((resolve) => {
    const startedMs = performance.now()
    const check = (): void => {
      if (found.size === 0 && performance.now() - startedMs < waitMs) {
        setTimeout(check, settleMs)
        return
      }
      window.removeEventListener('eip6963:announceProvider', onAnnounce)
      const injected = (window as { ethereum?: WalletChoice['provider'] }).ethereum
      if (found.size === 0 && typeof injected?.request === 'function') {
        found.set('injected', { rdns: 'injected', name: 'Browser wallet', icon: undefined, provider: injected })
      }
      resolve([...found.values()])
    }
    setTimeout(check, settleMs)
  })
}
