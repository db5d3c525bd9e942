import { proveInclusion } from '@securechat/sdk/audit'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { NotEligibleError, SecureChatError } from '@securechat/sdk/errors'
import type { GateRule } from '@securechat/sdk/gates'
import { eip1193Signer, type WalletSigner } from '@securechat/sdk/identity'
import { decodeInvite, type Room } from '@securechat/sdk/rooms'
import type { AbortOptions, DirectMessage, RoomMember, RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { openVault, platformVaultBackend, type Vault, type VaultUnlock } from '@securechat/sdk/vault'
import { getAddress, JsonRpcProvider } from 'ethers'
import type { AppConfig } from '../config.ts'
import type { WalletChoice } from '../wallet/discover.ts'
import { AnchorChecker, AnchorWatcher, ciphertextHashOfRecord, leafOfEntry } from './anchors.ts'
import { forgetVaultKey, loadLastSession, loadVaultKey, saveLastSession, saveVaultKey } from './device-store.ts'
import {
  type ChatEntry,
  HISTORY_LIMIT,
  HistoryStore,
  type SavedConversation,
  type VerifiedAnchor,
} from './history-store.ts'
import {
  anchorWithWallet,
  type LeafListPublication,
  type MemberAnchorProgress,
  type MemberAnchorResult,
  memberBatch,
  postLeafList,
} from './member-anchor.ts'

export type SessionStatus = 'signed-out' | 'signing-in' | 'signed-in'
/** `connecting`: no relay or peer yet; `offline`: the browser has no network at all. */
export type NetworkStatus = 'connecting' | 'online' | 'offline'

export interface ConversationView {
  saved: SavedConversation
  unread: number
  /** `not-eligible`: the wallet fails the room's token gate (`problem` says what it needs). */
  state: 'joining' | 'joined' | 'not-eligible' | 'error'
  problem: string | undefined
  members: RoomMember[]
}

/** How often a start that found no relay (offline, relay down) is tried again. */
const RECONNECT_INTERVAL_MS = 3_000

const vaultName = (address: string): string => `securechat-vault-${address.toLowerCase()}`

/** The readable message of any failure, with the sdk's hint when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof SecureChatError) return err.hint === undefined ? err.message : `${err.message} — ${err.hint}`
  if (err instanceof Error) return err.message
  return String(err)
}

/** Accepts an invite string or a link carrying one (`…#invite=securechat:…`). */
export function inviteFromText(text: string): string {
  const trimmed = text.trim()
  const hash = trimmed.indexOf('#invite=')
  return hash === -1 ? trimmed : decodeURIComponent(trimmed.slice(hash + '#invite='.length))
}

/** The `ciphertextHash` field of a room entry, from the record as received. */
function withCiphertextHash(record: Uint8Array, sender: string): { ciphertextHash?: string } {
  const ciphertextHash = ciphertextHashOfRecord(record, sender)
  return ciphertextHash === undefined ? {} : { ciphertextHash }
}

/** A promise of the connected client; rejected (harmlessly) at sign-out if it never came. */
function connectedPromise(): PromiseWithResolvers<SecureChatClient> {
  const deferred = Promise.withResolvers<SecureChatClient>()
  deferred.promise.catch(() => {})
  return deferred
}

/**
 * One signed-in wallet in this tab: its vault, its sdk client, its conversations (rooms and
 * DMs) and their history. Components render from it and call its methods; it dispatches
 * `change` whenever something they show changed.
 */
export class ChatSession extends EventTarget {
  readonly config: AppConfig
  status: SessionStatus = 'signed-out'
  network: NetworkStatus = 'connecting'
  address: string | undefined
  ensName: string | undefined
  /** The chain the wallet is on, when it differs from the app's. */
  walletChainId: number | undefined
  /** The last failure worth telling the user (sign-in refused, relay unreachable …). */
  problem: string | undefined
  readonly conversations = new Map<string, ConversationView>()
  readonly #history = new Map<string, ChatEntry[]>()
  #wallet: WalletChoice | undefined
  #signer: WalletSigner | undefined
  #vault: Vault | undefined
  #store: HistoryStore | undefined
  /** Aborted at sign-out: background work of this session (leaf lists handed to the relay). */
  #lifetime = new AbortController()
  #client: SecureChatClient | undefined
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #provider: JsonRpcProvider | undefined
  /** Checks the open room's messages for anchors; undefined without an AuditLog and an RPC endpoint. */
  #anchors: AnchorWatcher | undefined
  #checker: AnchorChecker | undefined
  #detach: Array<() => void> = []
  /** Resolves with the client once it has reached a relay (see {@link #connected}). */
  #whenConnected = connectedPromise()

  constructor(config: AppConfig) {
    super()
    this.config = config
    addEventListener('online', this.#onBrowserNetwork)
    addEventListener('offline', this.#onBrowserNetwork)
  }

  get client(): SecureChatClient | undefined {
    return this.#client
  }

  history(id: string): ChatEntry[] {
    return this.#history.get(id) ?? []
  }

  /** The conversation on screen: its room messages get their "anchored" marks checked (`anchors.ts`). */
  watchAnchors(id: string | undefined): void {
    const room = id === undefined ? undefined : this.conversations.get(id)?.saved
    this.#anchors?.watch(room?.kind === 'room' && !room.id.startsWith('pending:') ? room.id : undefined)
  }

  /** Whether this member can anchor rooms' messages itself: the relay names an audit log and a chain RPC. */
  get canAnchor(): boolean {
    return this.#checker !== undefined && this.#wallet !== undefined
  }

  /**
   * Anchors the room's messages this device holds and has no verified anchor for (the most recent ones, one
   * batch), with a transaction from the wallet, hands the leaf list to the relay, and marks each message once its
   * anchor checks out against the chain. Throws `MemberAnchorError` (its `reason` says why).
   */
  async anchorRecent(
    roomId: string,
    onProgress: (progress: MemberAnchorProgress) => void = () => {},
    options: AbortOptions = {},
  ): Promise<MemberAnchorResult & { marked: number }> {
    const checker = this.#checker
    const wallet = this.#wallet
    const provider = this.#chainProvider()
    const auditLog = this.config.contracts.auditLog
    if (checker === undefined || wallet === undefined || provider === undefined || auditLog === undefined) {
      throw new Error('this relay names no audit log or chain RPC: messages cannot be anchored from here')
    }
    const pending = this.history(roomId).filter((e) => e.anchor === undefined)
    const leaves = pending.map((entry) => ({ entry, leaf: leafOfEntry(roomId, entry) }))
    const prepared = await memberBatch(
      leaves.flatMap(({ leaf }) => (leaf === undefined ? [] : [leaf])),
      options,
    )
    const store = this.#store
    const result = await anchorWithWallet(
      prepared,
      {
        wallet: wallet.provider,
        account: this.address!,
        provider,
        chainId: this.config.chainId,
        auditLog,
        onProgress: (progress) => {
          // On chain now, naming the list's CID: keep the list until a relay has taken it.
          if (progress.step === 'publishing') void store?.addPendingLeafList(prepared.bytes).catch(() => {})
          onProgress(progress)
        },
      },
      options,
    )
    await this.#settleLeafList(prepared.bytes, result.publication)
    // Marked as any relay's anchor is: this browser's own proof, checked against the root's anchor on chain.
    let marked = 0
    for (const { entry, leaf } of leaves) {
      if (leaf === undefined) continue
      const proof = proveInclusion(result.batch, { messageId: leaf.messageId, roomId: leaf.roomId })
      if (proof === undefined) continue
      const check = await checker.checkProof(leaf, proof, options)
      if (check.status !== 'anchored') continue
      entry.anchor = { ...check.anchor, proofSource: 'self' }
      marked += 1
    }
    if (marked > 0) {
      this.#store?.saveHistory(roomId, this.history(roomId))
      this.#changed()
    }
    return { ...result, marked }
  }

  /** Hands a leaf list to the relay again, after {@link anchorRecent} could not. */
  async republishLeafList(bytes: Uint8Array, options: AbortOptions = {}): Promise<LeafListPublication> {
    const publication = await postLeafList(bytes, {}, options)
    await this.#settleLeafList(bytes, publication)
    return publication
  }

  /** Drops a kept leaf list once a relay has it, or has refused it for good. */
  async #settleLeafList(bytes: Uint8Array, publication: LeafListPublication): Promise<void> {
    if (publication.ok || publication.final) await this.#store?.removePendingLeafList(bytes).catch(() => {})
  }

  /** Hands the relay the leaf lists of earlier anchors it never took (the page was closed, the relay was down). */
  async #republishPending(store: HistoryStore, signal: AbortSignal): Promise<void> {
    for (const bytes of await store.pendingLeafLists()) {
      const publication = await postLeafList(bytes, {}, { signal }).catch(() => undefined)
      if (publication === undefined) return // signed out
      if (this.#store !== store) return
      await this.#settleLeafList(bytes, publication)
    }
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
    const provider = this.#wallet?.provider
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

  async createRoom(params: { name: string; gate: GateRule | undefined }): Promise<string> {
    const client = this.#requireClient()
    const { room, invite } = await client.createRoom({
      name: params.name,
      access: params.gate === undefined ? { type: 'public' } : { type: 'gated', rule: params.gate },
      domains: [location.host],
      chainIds: [this.config.chainId],
    })
    this.#addRoom(room, invite)
    await this.#saveIndex()
    return room.id
  }

  /** Joins by invite (or invite link). A wallet failing the gate gets a `not-eligible` conversation. */
  async joinInvite(text: string): Promise<string> {
    const invite = inviteFromText(text)
    const { manifest } = decodeInvite(invite)
    // An invite link opened at start waits for the first relay instead of failing.
    const client = this.#client ?? (await this.#whenConnected.promise)
    try {
      const room = await client.joinRoom(invite)
      this.#addRoom(room, invite)
      await this.#saveIndex()
      return room.id
    } catch (err) {
      if (!(err instanceof NotEligibleError)) throw err
      // Shown, not saved: a later token purchase is picked up by joining again.
      const id = `pending:${manifest.signature.slice(2, 18)}`
      this.conversations.set(id, {
        saved: { kind: 'room', id, name: manifest.manifest.name, invite, lastReadMs: Date.now() },
        unread: 0,
        state: 'not-eligible',
        problem: err.message,
        members: [],
      })
      this.#changed()
      return id
    }
  }

  openDm(address: string): string {
    const peer = getAddress(address)
    if (!this.conversations.has(peer)) {
      this.conversations.set(peer, {
        saved: { kind: 'dm', id: peer, name: peer, lastReadMs: Date.now() },
        unread: 0,
        state: 'joined',
        problem: undefined,
        members: [],
      })
      void this.#saveIndex()
      this.#changed()
    }
    return peer
  }

  async leave(id: string): Promise<void> {
    const view = this.conversations.get(id)
    if (view === undefined) return
    if (view.saved.kind === 'room') await this.#client?.leaveRoom(id)
    this.conversations.delete(id)
    this.#history.delete(id)
    await this.#store?.deleteHistory(id)
    await this.#saveIndex()
    this.#changed()
  }

  async send(id: string, text: string): Promise<void> {
    const view = this.conversations.get(id)
    const client = this.#requireClient()
    if (view === undefined) throw new Error('no such conversation')
    const now = Date.now()
    let sent: { id: string; sentAtMs?: number; record?: Uint8Array }
    if (view.saved.kind === 'room') {
      const room = client.rooms.find((r) => r.id === id)
      if (room === undefined) throw new Error('this room is not joined yet')
      sent = await room.send(text)
    } else {
      sent = await client.dm(id).send(text)
    }
    this.#append(id, {
      id: sent.id,
      sender: this.address!,
      text,
      sentAtMs: sent.sentAtMs ?? now,
      receivedAtMs: now,
      mine: true,
      state: 'ok',
      // A room message's leaf uses the send time and ciphertext of the record as published.
      ...(sent.record === undefined ? {} : withCiphertextHash(sent.record, this.address!)),
    })
  }

  markRead(id: string): void {
    const view = this.conversations.get(id)
    if (view === undefined || view.unread === 0) return
    view.unread = 0
    view.saved.lastReadMs = Date.now()
    void this.#saveIndex()
    this.#changed()
  }

  /** The invite link of a joined room: opening it in SecureChat joins the room. */
  inviteLink(id: string): string | undefined {
    const view = this.conversations.get(id)
    if (view?.saved.kind !== 'room') return undefined
    return `${location.origin}/#invite=${encodeURIComponent(view.saved.invite)}`
  }

  // --- lifecycle ---

  async #begin(wallet: WalletChoice, address: string, vault: Vault): Promise<void> {
    this.#wallet = wallet
    this.#signer = eip1193Signer({ provider: wallet.provider, address })
    this.#vault = vault
    this.address = address
    this.#store = new HistoryStore(vault)
    this.#lifetime = new AbortController()
    // The vault's conversations show at once, before (or without) the network.
    const store = this.#store
    const saved = await store.conversations()
    const histories = await Promise.all(saved.map((conversation) => store.history(conversation.id)))
    saved.forEach((conversation, i) => {
      const history = histories[i]!
      const unread = history.filter((e) => !e.mine && e.receivedAtMs > conversation.lastReadMs).length
      this.conversations.set(conversation.id, {
        saved: conversation,
        unread,
        state: 'joining',
        problem: undefined,
        members: [],
      })
      this.#history.set(conversation.id, history)
    })
    await saveLastSession({ address, rdns: wallet.rdns })
    const auditLog = this.config.contracts.auditLog
    const provider = this.#chainProvider()
    if (auditLog !== undefined && provider !== undefined) {
      this.#checker = new AnchorChecker({ provider, chainId: this.config.chainId, auditLog })
      this.#anchors = new AnchorWatcher({
        checker: this.#checker,
        history: (roomId) => this.history(roomId),
        onAnchored: (roomId, entry, anchor) => this.#anchored(roomId, entry, anchor),
      })
    }
    this.#watchWallet(wallet)
    this.#setStatus('signed-in')
    void this.#lookupEns(address)
    // The vault's conversations are on screen now; the network comes when it comes (offline, relay down).
    void this.#connect().catch((err: unknown) => this.#fail(err))
  }

  async #end(): Promise<void> {
    this.#lifetime.abort()
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = undefined
    for (const detach of this.#detach) detach()
    this.#detach = []
    this.#anchors?.stop()
    this.#anchors = undefined
    this.#checker = undefined
    const client = this.#client
    this.#client = undefined
    await client?.stop().catch(() => {})
    await this.#store?.flush().catch(() => {})
    await this.#vault?.close().catch(() => {})
    this.#provider?.destroy()
    this.#provider = undefined
    this.#vault = undefined
    this.#store = undefined
    this.#wallet = undefined
    this.#signer = undefined
    this.address = undefined
    this.ensName = undefined
    this.conversations.clear()
    this.#history.clear()
    this.#whenConnected.reject(new Error('signed out'))
    this.#whenConnected = connectedPromise()
    this.#setStatus('signed-out')
  }

  /** Starts the client; with no relay reachable (offline), tries again every few seconds. */
  async #connect(): Promise<void> {
    if (this.#vault === undefined || this.#signer === undefined || this.#client !== undefined) return
    const config = this.config
    this.#chainProvider()
    const client = createClient({
      signer: this.#signer,
      vault: this.#vault,
      bootstrap: config.relays,
      domain: location.host,
      uri: location.origin,
      chainId: config.chainId,
      ...(this.#provider === undefined ? {} : { provider: this.#provider }),
      ...(config.allowPrivateAddresses ? { connectionGater: { denyDialMultiaddr: async () => false } } : {}),
      directConnections: config.iceServers === undefined ? {} : { iceServers: config.iceServers as RTCIceServer[] },
    })
    this.network = navigator.onLine ? 'connecting' : 'offline'
    this.#changed()
    try {
      await client.start()
    } catch (err) {
      if (this.status !== 'signed-in') return
      console.warn('SecureChat: no relay reached, trying again', err)
      this.problem = describeError(err)
      this.#reconnectTimer = setTimeout(() => void this.#connect(), RECONNECT_INTERVAL_MS)
      this.#changed()
      return
    }
    if (this.status !== 'signed-in' || this.#vault === undefined) {
      await client.stop()
      return
    }
    this.#client = client
    this.#whenConnected.resolve(client)
    this.problem = undefined
    this.#watchNetwork(client)
    this.#watchDms(client)
    if (this.#store !== undefined) void this.#republishPending(this.#store, this.#lifetime.signal)
    await Promise.all(
      [...this.conversations.values()]
        .filter((view) => view.saved.kind === 'room')
        .map((view) => this.#rejoin(client, view)),
    )
    this.#changed()
  }

  /** The app chain's JSON-RPC provider (`rpcUrl` of /config.json), made once; undefined without one. */
  #chainProvider(): JsonRpcProvider | undefined {
    const { rpcUrl, chainId } = this.config
    this.#provider ??= rpcUrl === undefined ? undefined : new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true })
    return this.#provider
  }

  async #rejoin(client: SecureChatClient, view: ConversationView): Promise<void> {
    if (view.saved.kind !== 'room') return
    try {
      const room = await client.joinRoom(view.saved.invite)
      this.#watchRoom(room)
      view.state = 'joined'
      view.problem = undefined
    } catch (err) {
      view.state = err instanceof NotEligibleError ? 'not-eligible' : 'error'
      view.problem = describeError(err)
    }
  }

  #addRoom(room: Room, invite: string): void {
    const existing = this.conversations.get(room.id)
    if (existing !== undefined && existing.state === 'joined') return
    this.conversations.set(room.id, {
      saved: { kind: 'room', id: room.id, name: room.manifest.manifest.name, invite, lastReadMs: Date.now() },
      unread: 0,
      state: 'joined',
      problem: undefined,
      members: room.members(),
    })
    if (!this.#history.has(room.id)) this.#history.set(room.id, [])
    this.#watchRoom(room)
    this.#changed()
  }

  #watchRoom(room: Room): void {
    const onMessage = (event: CustomEvent<RoomMessage>): void => {
      const m = event.detail
      this.#append(room.id, {
        id: m.id,
        sender: m.sender,
        text: m.text,
        sentAtMs: m.sentAtMs,
        receivedAtMs: m.receivedAtMs,
        mine: false,
        state: 'ok',
        ...withCiphertextHash(m.record, m.sender),
      })
    }
    const onUndecryptable = (event: CustomEvent<UndecryptableMessage>): void => {
      const m = event.detail
      this.#append(room.id, {
        id: m.id,
        sender: m.sender,
        text: '',
        sentAtMs: m.sentAtMs,
        receivedAtMs: Date.now(),
        mine: false,
        state: 'undecryptable',
        reason: m.reason,
        ...withCiphertextHash(m.record, m.sender),
      })
    }
    const onMembers = (): void => {
      const view = this.conversations.get(room.id)
      if (view === undefined) return
      view.members = room.members()
      this.#changed()
    }
    room.addEventListener('message:received', onMessage)
    room.addEventListener('message:undecryptable', onUndecryptable)
    room.addEventListener('member:joined', onMembers)
    room.addEventListener('member:left', onMembers)
    room.addEventListener('access:changed', (event) => {
      const view = this.conversations.get(room.id)
      if (view === undefined) return
      view.state = event.detail.eligible ? 'joined' : 'not-eligible'
      view.problem = event.detail.eligible ? undefined : event.detail.reason
      this.#changed()
    })
    onMembers()
  }

  #watchDms(client: SecureChatClient): void {
    const dms = client.dms
    const onMessage = (event: CustomEvent<DirectMessage>): void => {
      const m = event.detail
      const id = this.openDm(m.conversation)
      this.#append(id, {
        id: m.id,
        sender: m.sender,
        text: m.text,
        sentAtMs: m.sentAtMs,
        receivedAtMs: m.receivedAtMs,
        mine: m.direction === 'out',
        state: 'ok',
      })
    }
    dms.addEventListener('message:received', onMessage)
    this.#detach.push(() => dms.removeEventListener('message:received', onMessage))
  }

  #watchNetwork(client: SecureChatClient): void {
    const libp2p = client.libp2p
    const update = (): void => {
      const connected = libp2p.getConnections().length > 0
      this.network = !navigator.onLine ? 'offline' : connected ? 'online' : 'connecting'
      this.#changed()
    }
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

  #append(id: string, entry: ChatEntry): void {
    const history = this.#history.get(id) ?? []
    if (history.some((e) => e.id === entry.id)) return
    history.push(entry)
    // Memory holds what the vault keeps, no more.
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT)
    this.#history.set(id, history)
    const view = this.conversations.get(id)
    if (view !== undefined && !entry.mine) view.unread += 1
    this.#store?.saveHistory(id, history)
    if (entry.ciphertextHash !== undefined) this.#anchors?.poke(id)
    this.#changed()
  }

  /** A message passed every anchor check: it keeps the anchor, so a reload shows the mark without asking again. */
  #anchored(roomId: string, entry: ChatEntry, anchor: VerifiedAnchor): void {
    entry.anchor = anchor
    this.#store?.saveHistory(roomId, this.history(roomId))
    this.#changed()
  }

  async #saveIndex(): Promise<void> {
    const saved = [...this.conversations.values()].filter((v) => !v.saved.id.startsWith('pending:')).map((v) => v.saved)
    await this.#store?.saveConversations(saved)
  }

  #requireClient(): SecureChatClient {
    if (this.#client === undefined) throw new Error('not connected yet: waiting for a relay')
    return this.#client
  }

  #fail(err: unknown): void {
    this.problem = describeError(err)
    this.#changed()
  }

  readonly #onBrowserNetwork = (): void => {
    if (!navigator.onLine) this.network = 'offline'
    else if (this.#client === undefined) this.network = 'connecting'
    this.#changed()
  }

  #setStatus(status: SessionStatus): void {
    this.status = status
    this.#changed()
  }

  #changed(): void {
    this.dispatchEvent(new Event('change'))
  }
}
