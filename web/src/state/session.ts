import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { SecureChatError, UnreachableError } from '@securechat/sdk/errors'
import { eip1193Signer } from '@securechat/sdk/identity'
import { loadSavedRooms } from '@securechat/sdk/rooms'
import { openVault, platformVaultBackend, type Vault, type VaultUnlock } from '@securechat/sdk/vault'
import { getAddress, JsonRpcProvider } from 'ethers'
import type { AppConfig } from '../config.ts'
import type { WalletChoice } from '../wallet/discover.ts'
import { forgetVaultKey, loadLastSession, loadVaultKey, saveLastSession, saveVaultKey } from './device-store.ts'
import { describeError } from './errors.ts'
import { type FileStores, openFileStores } from './file-stores.ts'
import { HistoryStore } from './history-store.ts'
import { browserRelays } from './relay-list.ts'

export type SessionStatus = 'signed-out' | 'signing-in' | 'signed-in'
/** `connecting`: no relay or peer yet; `offline`: the browser has no network at all. */
export type NetworkStatus = 'connecting' | 'online' | 'offline'

/** How often a start that found no relay (offline, relay down) is tried again. */
export const RECONNECT_INTERVAL_MS = 3_000

const vaultName = (address: string): string => `securechat-vault-${address.toLowerCase()}`

/** What a signed-in session hands the state built on it ({@link SessionPart}). */
export interface SignedIn {
  address: string
  wallet: WalletChoice
  vault: Vault
  store: HistoryStore
  /**
   * Made at sign-in and started once a relay answers: before that (offline) it already lists the rooms saved
   * in the vault and leaves them.
   */
  client: SecureChatClient
  /** The app chain's JSON-RPC provider (`rpcUrl` of /config.json); undefined without one. */
  provider: JsonRpcProvider | undefined
  /** Aborted at sign-out: background work of this session. */
  signal: AbortSignal
}

/** State that lives as long as a signed-in session: conversations, anchoring. */
export interface SessionPart {
  /** Signed in: the vault is open. Resolves once what the vault holds is ready to show. */
  open(signedIn: SignedIn): Promise<void>
  /** The client reached a relay (once per sign-in). */
  connected(client: SecureChatClient): Promise<void>
  /** Signed out: forget everything of that wallet. */
  close(): void
}

/**
 * One signed-in wallet in this tab: the wallet, its vault and the sdk client's start and network state.
 * Dispatches `session:changed` when any of what it shows changed; conversations and anchoring are
 * {@link SessionPart}s opened and closed with it.
 */
export class Session extends EventTarget {
  readonly config: AppConfig
  status: SessionStatus = 'signed-out'
  network: NetworkStatus = 'connecting'
  address: string | undefined
  ensName: string | undefined
  /** The chain the wallet is on, when it differs from the app's. */
  walletChainId: number | undefined
  /** The last failure worth telling the user (sign-in refused, a wallet that will not sign …). */
  problem: string | undefined
  /**
   * The browser has a network but no relay or peer answers (a start that reached none, or every connection gone):
   * the app says so in words, and keeps trying.
   */
  relaysLost = false
  readonly #parts: SessionPart[] = []
  #signedIn: SignedIn | undefined
  #lifetime = new AbortController()
  #connected = false
  #connecting = false
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #detach: Array<() => void> = []
  /** The signed-in wallet's IndexedDB stores of files' blocks: closed once its client stopped. */
  #fileStores: FileStores | undefined
  /** Resolves with the client once it has reached a relay. */
  #whenConnected = connectedPromise()

  constructor(config: AppConfig) {
    super()
    this.config = config
    addEventListener('online', this.#onBrowserNetwork)
    addEventListener('offline', this.#onBrowserNetwork)
  }

  /** Opens and closes `parts` with every sign-in and sign-out, in this order. */
  attach(...parts: SessionPart[]): void {
    this.#parts.push(...parts)
  }

  get signedIn(): SignedIn | undefined {
    return this.#signedIn
  }

  /** The client, once it has reached a relay. */
  get client(): SecureChatClient | undefined {
    return this.#connected ? this.#signedIn?.client : undefined
  }

  /** Resolves with the client once it has reached a relay; rejects at sign-out. */
  whenConnected(): Promise<SecureChatClient> {
    return this.#whenConnected.promise
  }

  /** Reopens the last session without any wallet prompt, if the wallet still grants its account. */
  async resume(wallets: WalletChoice[]): Promise<boolean> {
    const last = await loadLastSession()
    if (last === undefined) return false
    const wallet = wallets.find((w) => w.rdns === last.rdns)
    const key = await loadVaultKey(last.address)
    if (wallet === undefined || key === undefined) return false
    const accounts = await wallet.provider.request({ method: 'eth_accounts' }).catch(() => [])
    const granted =
      Array.isArray(accounts) && accounts.some((a) => String(a).toLowerCase() === last.address.toLowerCase())
    if (!granted) return false
    this.#setStatus('signing-in')
    try {
      const vault = await openVault({
        backend: platformVaultBackend(vaultName(last.address)),
        unlock: { type: 'key', key },
      })
      await this.#begin(wallet, getAddress(last.address), vault)
      return true
    } catch (err) {
      // A kept key that opens nothing is dropped: signing in unlocks with the wallet.
      if (err instanceof SecureChatError && err.details.unlock === 'key') await forgetVaultKey(last.address)
      else this.problem = describeError(err)
      await this.#end()
      return false
    }
  }

  /** Connects the wallet (one prompt), opens or creates the vault, signs the session certificate. */
  async signIn(wallet: WalletChoice): Promise<void> {
    this.problem = undefined
    this.#setStatus('signing-in')
    try {
      const accounts = await wallet.provider.request({ method: 'eth_requestAccounts' })
      if (!Array.isArray(accounts) || typeof accounts[0] !== 'string') throw new Error('the wallet granted no account')
      const address = getAddress(accounts[0])
      const key = await loadVaultKey(address)
      const signer = eip1193Signer({ provider: wallet.provider, address })
      const open = (unlock: VaultUnlock) => openVault({ backend: platformVaultBackend(vaultName(address)), unlock })
      const vault = await (key === undefined ? open({ type: 'wallet', signer }) : open({ type: 'key', key })).catch(
        async (err: unknown) => {
          // A kept key that opens nothing (the vault was cleared apart from it): the wallet unlocks instead.
          if (key === undefined || !(err instanceof SecureChatError) || err.details.unlock !== 'key') throw err
          await forgetVaultKey(address)
          return open({ type: 'wallet', signer })
        },
      )
      await saveVaultKey(address, vault.unlockKey)
      await this.#begin(wallet, address, vault)
    } catch (err) {
      this.problem = describeError(err)
      await this.#end()
    }
  }

  async signOut(): Promise<void> {
    const address = this.address
    await this.#end()
    await saveLastSession(undefined)
    if (address !== undefined) await forgetVaultKey(address)
  }

  /** Asks the wallet to switch to (or add) the app's chain. */
  async switchChain(): Promise<void> {
    const provider = this.#signedIn?.wallet.provider
    if (provider === undefined) return
    const chainId = `0x${this.config.chainId.toString(16)}`
    try {
      await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] })
    } catch {
      if (this.config.rpcUrl === undefined) return
      await provider
        .request({
          method: 'wallet_addEthereumChain',
          params: [
            {
              chainId,
              chainName: `SecureChat chain ${this.config.chainId}`,
              rpcUrls: [this.config.rpcUrl],
              nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
            },
          ],
        })
        .catch((err: unknown) => this.#fail(err))
    }
  }

  // --- lifecycle ---

  async #begin(wallet: WalletChoice, address: string, vault: Vault): Promise<void> {
    const config = this.config
    const provider =
      config.rpcUrl === undefined
        ? undefined
        : new JsonRpcProvider(config.rpcUrl, config.chainId, { staticNetwork: true })
    // Every relay this device knows, not only the one that served the page: /config.json names that one and the
    // relays it peers with, and each saved room the relays its invite named. With one gone, the others carry on.
    const saved = await loadSavedRooms(vault).catch(() => [])
    const fileStores = await openFileStores(address)
    const client = createClient({
      signer: eip1193Signer({ provider: wallet.provider, address }),
      vault,
      bootstrap: browserRelays([...config.relays, ...saved.flatMap((room) => room.relays)]),
      domain: location.host,
      uri: location.origin,
      chainId: config.chainId,
      ...(provider === undefined ? {} : { provider }),
      ...(config.allowPrivateAddresses ? { connectionGater: { denyDialMultiaddr: async () => false } } : {}),
      directConnections: config.iceServers === undefined ? {} : { iceServers: config.iceServers as RTCIceServer[] },
      // Files' blocks in this wallet's own IndexedDB database, never in memory: a download holds a few segments,
      // whatever its size, and blocks fetched before a reload are still there after it.
      files: { blockstore: fileStores.blockstore, datastore: fileStores.datastore },
    })
    this.#fileStores = fileStores
    this.#lifetime = new AbortController()
    const signedIn: SignedIn = {
      address,
      wallet,
      vault,
      store: new HistoryStore(vault),
      client,
      provider,
      signal: this.#lifetime.signal,
    }
    this.#signedIn = signedIn
    this.address = address
    // The vault's conversations show at once, before (or without) the network.
    for (const part of this.#parts) await part.open(signedIn)
    await saveLastSession({ address, rdns: wallet.rdns })
    this.#watchWallet(wallet)
    this.#sayGoodbyeOnUnload(client, signedIn.store)
    this.#setStatus('signed-in')
    void this.#lookupEns(address)
    // The network comes when it comes (offline, relay down).
    void this.#connect().catch((err: unknown) => this.#fail(err))
  }

  /**
   * A closed tab or a page navigated away tells the rooms at once (each room's signed leaving presence) instead of
   * leaving them to time the device out; what does not get out before the page is gone, its relay's departure notice
   * covers. Not for a page kept in the back-forward cache (`persisted`): it comes back as it was. The history not
   * written yet (`HistoryStore` writes at most every 250 ms) goes first: the sdk will not deliver those messages
   * again, and a reload a moment after one came would lose it from the list.
   */
  #sayGoodbyeOnUnload(client: SecureChatClient, store: HistoryStore): void {
    const onPageHide = (event: PageTransitionEvent): void => {
      if (event.persisted) return
      void store.flush().catch(() => {})
      void client.stop().catch(() => {})
    }
    addEventListener('pagehide', onPageHide)
    this.#detach.push(() => removeEventListener('pagehide', onPageHide))
  }

  async #end(): Promise<void> {
    this.#lifetime.abort()
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = undefined
    for (const detach of this.#detach) detach()
    this.#detach = []
    const signedIn = this.#signedIn
    this.#signedIn = undefined
    this.#connected = false
    for (const part of this.#parts) part.close()
    await signedIn?.client.stop().catch(() => {})
    await this.#fileStores?.close().catch(() => {})
    this.#fileStores = undefined
    await signedIn?.store.flush().catch(() => {})
    await signedIn?.vault.close().catch(() => {})
    signedIn?.provider?.destroy()
    this.address = undefined
    this.ensName = undefined
    this.relaysLost = false
    this.#whenConnected.reject(new Error('signed out'))
    this.#whenConnected = connectedPromise()
    this.#setStatus('signed-out')
  }

  /** Starts the client; with no relay reachable (offline), tries again every few seconds. */
  async #connect(): Promise<void> {
    const signedIn = this.#signedIn
    if (signedIn === undefined || this.#connected || this.#connecting) return
    this.network = navigator.onLine ? 'connecting' : 'offline'
    this.#changed()
    this.#connecting = true
    try {
      await signedIn.client.start({ signal: signedIn.signal })
    } catch (err) {
      if (this.#signedIn !== signedIn) return
      // An unreachable relay's addresses and flags are for developers (the console), not for the banner.
      console.warn('SecureChat: not started, trying again', err)
      if (err instanceof UnreachableError) this.relaysLost = true
      else this.problem = describeError(err)
      this.#reconnectTimer = setTimeout(() => void this.#connect(), RECONNECT_INTERVAL_MS)
      this.#changed()
      return
    } finally {
      this.#connecting = false
    }
    if (this.#signedIn !== signedIn) {
      await signedIn.client.stop() // signed out while it started
      return
    }
    this.#connected = true
    this.problem = undefined
    this.relaysLost = false
    this.#watchNetwork(signedIn.client)
    // An invite link opened at start goes on at once, while the saved rooms are joined again.
    this.#whenConnected.resolve(signedIn.client)
    for (const part of this.#parts) await part.connected(signedIn.client)
    this.#changed()
  }

  #watchNetwork(client: SecureChatClient): void {
    const libp2p = client.libp2p
    const update = (): void => this.#updateNetwork()
    libp2p.addEventListener('connection:open', update)
    libp2p.addEventListener('connection:close', update)
    this.#detach.push(() => {
      libp2p.removeEventListener('connection:open', update)
      libp2p.removeEventListener('connection:close', update)
    })
    update()
  }

  #watchWallet(wallet: WalletChoice): void {
    const provider = wallet.provider
    const onAccounts = (accounts: unknown): void => {
      const next = Array.isArray(accounts) && typeof accounts[0] === 'string' ? accounts[0] : undefined
      if (next?.toLowerCase() === this.address?.toLowerCase()) return
      void this.#end().then(() => {
        this.problem =
          next === undefined
            ? 'The wallet disconnected; sign in again.'
            : `The wallet switched to ${next}; sign in with it.`
        this.#changed()
      })
    }
    const onChain = (chainId: unknown): void => {
      const id = typeof chainId === 'string' ? Number.parseInt(chainId, 16) : Number(chainId)
      this.walletChainId = id === this.config.chainId ? undefined : id
      this.#changed()
    }
    provider.on?.('accountsChanged', onAccounts)
    provider.on?.('chainChanged', onChain)
    this.#detach.push(() => {
      provider.removeListener?.('accountsChanged', onAccounts)
      provider.removeListener?.('chainChanged', onChain)
    })
    void provider
      .request({ method: 'eth_chainId' })
      .then(onChain)
      .catch(() => {})
  }

  async #lookupEns(address: string): Promise<void> {
    if (this.config.ensRpcUrl === undefined) return
    try {
      const name = await new JsonRpcProvider(this.config.ensRpcUrl, 1, { staticNetwork: true }).lookupAddress(address)
      if (name !== null && this.address === address) {
        this.ensName = name
        this.#changed()
      }
    } catch {
      // No ENS name shown; the address is.
    }
  }

  #fail(err: unknown): void {
    this.problem = describeError(err)
    this.#changed()
  }

  /**
   * The browser's network went or came back. Back, the relay connections are checked at once
   * (`RelayPool.check`): one opened from an address this device no longer has is dead, and would otherwise pass for
   * open until libp2p's ping gives up on it, up to 50 s later.
   */
  readonly #onBrowserNetwork = (): void => {
    if (!navigator.onLine || !this.#connected) {
      this.network = navigator.onLine ? 'connecting' : 'offline'
      this.#changed()
      return
    }
    // Connections that outlived a short outage carry on: online at once, not after the next connection event (the
    // outbox waits for `online`). The check closes and redials the dead ones, and connection events follow.
    this.#updateNetwork()
    void this.client?.relays.check().catch(() => {})
  }

  /**
   * The network state of a started client, from the browser's word and the client's connections, on either's events:
   * a connection may open while the browser still says offline, and connections may outlive a short outage.
   */
  #updateNetwork(): void {
    const client = this.client
    if (client === undefined) return
    const connected = client.libp2p.getConnections().length > 0
    this.network = !navigator.onLine ? 'offline' : connected ? 'online' : 'connecting'
    this.relaysLost = !connected
    this.#changed()
  }

  #setStatus(status: SessionStatus): void {
    this.status = status
    this.#changed()
  }

  #changed(): void {
    this.dispatchEvent(new Event('session:changed'))
  }
}

/** A promise of the connected client; rejected (harmlessly) at sign-out if it never came. */
function connectedPromise(): PromiseWithResolvers<SecureChatClient> {
  const deferred = Promise.withResolvers<SecureChatClient>()
  deferred.promise.catch(() => {})
  return deferred
}
