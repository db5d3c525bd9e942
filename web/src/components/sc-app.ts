import { provide } from '@lit/context'
import { Task, TaskStatus } from '@lit/task'
import { css, html, LitElement } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { type OpenTarget, openTargetOfHash, openTargetOfMessage } from '../notification-click.ts'
import type { AppState } from '../signed-in.ts'
import type { Anchoring } from '../state/anchoring.ts'
import type { Calls } from '../state/calls.ts'
import {
  anchoringContext,
  ChangeController,
  callsContext,
  conversationsContext,
  filesContext,
  notificationsContext,
  sessionContext,
  signalsContext,
} from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { loadLastSession } from '../state/device-store.ts'
import type { Files } from '../state/files.ts'
import type { Notifications } from '../state/notifications.ts'
import type { Session } from '../state/session.ts'
import type { Signals } from '../state/signals.ts'
import { discoverWallets, type WalletChoice } from '../wallet/discover.ts'
import './sc-sign-in.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** The signed-in part of the app, loaded after the shell (see `signed-in.ts`). */
type SignedInModule = typeof import('../signed-in.ts')

type Page = 'chat' | 'create-room' | 'join-room' | 'new-dm' | 'mentions'

/** The app shell: loads the relay's config, signs in, and lays out conversations and the chat. */
@customElement('sc-app')
export class ScApp extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: grid;
        /* Header, notices (often none), the rest: a notice takes its line and no more. */
        grid-template-rows: auto auto minmax(0, 1fr);
        /* Never wider than the screen: a line that does not fit (a long room name) is cut, not scrolled sideways. */
        grid-template-columns: minmax(0, 1fr);
        height: 100dvh;
        background: var(--sc-bg);
      }
      header {
        display: flex;
        flex-wrap: wrap;
        gap: 0.75rem;
        align-items: center;
        justify-content: space-between;
        padding: 0.5rem 1rem;
        border-bottom: 1px solid var(--sc-border);
      }
      h1 {
        font-size: 1.25rem;
        margin: 0;
      }
      .who {
        display: flex;
        gap: 0.75rem;
        align-items: center;
        flex-wrap: wrap;
      }
      .net {
        font-size: 0.875rem;
        padding: 0.125rem 0.5rem;
        border-radius: 999px;
        border: 1px solid currentColor;
      }
      .net.online {
        color: var(--sc-ok);
      }
      .net.offline,
      .net.connecting {
        color: var(--sc-danger);
      }
      main {
        display: grid;
        grid-template-columns: minmax(14rem, 20rem) 1fr;
        gap: 1rem;
        padding: 1rem;
        min-height: 0;
      }
      main > * {
        min-height: 0;
      }
      .pane {
        display: grid;
        grid-template-rows: minmax(0, 1fr);
        grid-template-columns: minmax(0, 1fr);
        min-height: 0;
      }
      .banner {
        background: #fef3c7;
        padding: 0.5rem 1rem;
      }
      .banner.slim {
        padding: 0.25rem 1rem;
        font-size: 0.875rem;
      }
      .signed-out {
        display: block;
        padding: 1rem;
        max-width: 40rem;
      }
      /* Phone-sized screens: one column, the list or the open conversation. */
      @media (max-width: 700px) {
        main {
          grid-template-columns: minmax(0, 1fr);
        }
        main.open sc-conversation-list {
          display: none;
        }
        main:not(.open) .pane {
          display: none;
        }
      }
      .back {
        display: none;
      }
      @media (max-width: 700px) {
        .back {
          display: inline-block;
          margin-bottom: 0.5rem;
          justify-self: start;
        }
        .pane {
          grid-template-rows: auto minmax(0, 1fr);
        }
        /*
         * A phone leaves the messages most of the screen: one slim header line (the app's name stays for screen
         * readers), little padding, and Back on the conversation's own header line, not a line of its own.
         */
        header.signed-in {
          flex-wrap: nowrap;
          padding: 0.25rem 0.5rem;
        }
        header.signed-in h1 {
          position: absolute;
          width: 1px;
          height: 1px;
          overflow: hidden;
          clip: rect(0 0 0 0);
          white-space: nowrap;
        }
        header.signed-in .who {
          flex-wrap: nowrap;
          min-width: 0;
          width: 100%;
          justify-content: space-between;
          gap: 0.375rem;
        }
        /* Status, Search, settings and Sign out keep their size; the address gives way (whole in its title). */
        header.signed-in .who [data-testid='address'] {
          flex: 0 1 auto;
          min-width: 0;
          overflow: hidden;
          text-overflow: ellipsis;
          white-space: nowrap;
        }
        header.signed-in .who > button {
          min-height: 36px;
          padding-inline: 0.5rem;
        }
        main {
          padding: 0.5rem;
        }
        .pane.chat {
          position: relative;
          grid-template-rows: minmax(0, 1fr);
        }
        .pane.chat .back {
          position: absolute;
          top: 0;
          left: 0;
          margin: 0;
          z-index: 1;
        }
        .pane.chat sc-chat-view {
          --sc-header-inset: 5rem;
        }
      }
    `,
  ]

  @provide({ context: sessionContext })
  @state()
  session: Session | undefined

  @provide({ context: conversationsContext })
  @state()
  conversations: Conversations | undefined

  @provide({ context: anchoringContext })
  @state()
  anchoring: Anchoring | undefined

  @provide({ context: notificationsContext })
  @state()
  notifications: Notifications | undefined
  @provide({ context: signalsContext })
  @state()
  signals: Signals | undefined
  @provide({ context: filesContext })
  @state()
  files: Files | undefined
  @provide({ context: callsContext })
  @state()
  calls: Calls | undefined

  @state() private wallets: WalletChoice[] = []
  @state() private page: Page = 'chat'
  @state() private selected: string | undefined
  @state() private startProblem: string | undefined

  /** Set when the signed-in part of the app, or the relay's config, could not be loaded. */
  @state() private loadProblem: string | undefined
  /** The room an invite link opened before sign-in is for (`#invite=…`), shown on the sign-in page. */
  @state() private invitedTo: { name: string; requirement: string | undefined } | undefined
  /** A wallet was picked before the signed-in part had loaded. */
  @state() private waitingForApp = false
  /**
   * A notification's conversation and message to open (its click: `notification-click.ts`), once signed in and the
   * conversation is here.
   */
  @state() private toOpen: OpenTarget | undefined

  readonly #controller = new ChangeController<Session>(this, 'session:changed')
  readonly #conversationChanges = new ChangeController<Conversations>(this, 'conversations:changed')
  /** The signed-in module and a session on the relay's config; started with the shell, never awaited by its first render. */
  #loaded: Promise<{ app: SignedInModule } & AppState> | undefined

  readonly #start = new Task(this, {
    task: async () => {
      const loaded = this.#load()
      const [wallets, last] = await Promise.all([discoverWallets(), loadLastSession().catch(() => undefined)])
      this.wallets = wallets
      // A returning device opens its vault without a prompt: wait for it rather than flash the sign-in button.
      if (last !== undefined) {
        const { session } = await loaded
        await session.resume(this.wallets)
        await this.#openInviteFromUrl()
      }
    },
    args: () => [],
  })

  #load(): Promise<{ app: SignedInModule } & AppState> {
    this.#loaded ??= (async () => {
      const app = await import('../signed-in.ts')
      const state = await app.startSession()
      this.session = state.session
      this.conversations = state.conversations
      this.anchoring = state.anchoring
      this.notifications = state.notifications
      this.signals = state.signals
      this.files = state.files
      this.calls = state.calls
      this.#controller.target = state.session
      this.#conversationChanges.target = state.conversations
      this.invitedTo = app.invitedTo(location.hash)
      return { app, ...state }
    })()
    this.#loaded.catch((err: unknown) => {
      this.loadProblem = err instanceof Error ? err.message : String(err)
    })
    return this.#loaded
  }

  override connectedCallback(): void {
    super.connectedCallback()
    addEventListener('hashchange', this.#onHash)
    navigator.serviceWorker?.addEventListener('message', this.#onWorkerMessage)
    this.#takeOpenFromUrl()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    removeEventListener('hashchange', this.#onHash)
    navigator.serviceWorker?.removeEventListener('message', this.#onWorkerMessage)
  }

  override updated(): void {
    const conversations = this.conversations
    const signedIn = this.session?.status === 'signed-in'
    // A notification clicked: its conversation, before the one open before a reload.
    const toOpen = this.toOpen
    // Signed in while starting (a returning device) is not shown yet: once it is.
    const shown = signedIn && this.#start.status === TaskStatus.COMPLETE
    if (shown && toOpen !== undefined && conversations?.get(toOpen.conversation) !== undefined) {
      this.toOpen = undefined
      void this.#openAt(toOpen)
    }
    // The conversation open before a reload comes back, unless something was opened since (an invite link).
    const last = signedIn ? conversations?.takeLastOpen() : undefined
    if (last !== undefined && this.page === 'chat' && this.selected === undefined) this.#show('chat', last)
    const unread = signedIn ? (conversations?.list ?? []).reduce((sum, view) => sum + view.unread, 0) : 0
    const title = unread > 0 ? `(${unread}) SecureChat` : 'SecureChat'
    if (document.title !== title) document.title = title
  }

  override render() {
    return this.#start.render({
      pending: () => html`<main class="signed-out"><p role="status">Starting SecureChat…</p></main>`,
      error: (err) => this.#cannotStart(String(err instanceof Error ? err.message : err)),
      complete: () =>
        this.loadProblem === undefined ? this.#renderSession(this.session) : this.#cannotStart(this.loadProblem),
    })
  }

  /** Nothing works without the relay's config: say why, and offer the one thing to do. */
  #cannotStart(problem: string) {
    return html`<main class="signed-out">
      <p role="alert" class="error">SecureChat cannot start: ${problem}</p>
      <button @click=${() => location.reload()}>Try again</button>
    </main>`
  }

  #renderSession(session: Session | undefined) {
    const signedIn = session?.status === 'signed-in'
    return html`
      <header class=${signedIn ? 'signed-in' : ''}>
        <h1>SecureChat</h1>
        ${
          signedIn
            ? html`<div class="who">
              <span class="net ${session.network}" role="status" data-testid="network">${session.network}</span>
              <sc-search @message-jump=${this.#onJump}></sc-search>
              <span title=${session.address ?? ''} data-testid="address">${session.ensName ?? shortAddress(session.address ?? '')}</span>
              <button class="secondary" @click=${() => session.signOut()}>Sign out</button>
            </div>`
            : ''
        }
      </header>
      ${
        signedIn
          ? html`
            <div class="notices">
              ${this.#networkNotice(session)}
              ${session.walletChainId === undefined ? '' : html`<div class="banner" role="alert">Your wallet is on chain ${session.walletChainId}; SecureChat uses chain ${session.config.chainId}. <button class="secondary" @click=${() => session.switchChain()}>Switch</button></div>`}
              ${session.problem === undefined ? '' : html`<div class="banner" role="alert">${session.problem}</div>`}
              ${this.startProblem === undefined ? '' : html`<div class="banner" role="alert">${this.startProblem}</div>`}
              <sc-call @conversation-selected=${this.#onSelect}></sc-call>
            </div>
            <main
              class=${this.page !== 'chat' || this.selected !== undefined ? 'open' : ''}
              @conversation-selected=${this.#onSelect}
              @navigate=${this.#onNavigate}
              @message-jump=${this.#onJump}
            >
              <sc-conversation-list .selected=${this.selected}></sc-conversation-list>
              <section class=${this.page === 'chat' && this.selected !== undefined ? 'pane chat' : 'pane'} aria-label="Conversation">
                <button class="secondary back" @click=${() => this.#show('chat', undefined)}>Back</button>
                ${this.#pane()}
              </section>
            </main>
          `
          : html`<main class="signed-out">
            <sc-sign-in
              .invitedTo=${this.invitedTo}
              .wallets=${this.wallets}
              ?busy=${this.waitingForApp || session?.status === 'signing-in'}
              .problem=${session?.problem}
              @wallet-selected=${this.#onWallet}
            ></sc-sign-in>
          </main>`
      }
    `
  }

  /** One slim line for a person: what they see and what happens to what they write; never addresses or flags. */
  #networkNotice(session: Session) {
    const text =
      session.network === 'offline'
        ? 'offline — showing what this device has; messages will be sent when you reconnect'
        : session.relaysLost
          ? 'no connection to the chat network right now — showing what this device has; messages will be sent when you reconnect'
          : undefined
    return text === undefined ? '' : html`<div class="banner slim" role="status" data-testid="offline">${text}</div>`
  }

  #pane() {
    switch (this.page) {
      case 'create-room':
        return html`<sc-create-room></sc-create-room>`
      case 'join-room':
        return html`<sc-join-room></sc-join-room>`
      case 'new-dm':
        return html`<sc-new-dm></sc-new-dm>`
      case 'mentions':
        return html`<sc-mentions></sc-mentions>`
      case 'chat':
        return this.selected === undefined
          ? html`<p class="muted">Pick a conversation, create a room, or join one with an invite.</p>`
          : html`<sc-chat-view .conversation=${this.selected}></sc-chat-view>`
    }
  }

  async #onWallet(event: CustomEvent<WalletChoice>): Promise<void> {
    this.waitingForApp = true
    try {
      const { session } = await this.#load()
      await session.signIn(event.detail)
    } catch {
      return // shown as loadProblem
    } finally {
      this.waitingForApp = false
    }
    await this.#openInviteFromUrl()
  }

  #onSelect(event: CustomEvent<string | undefined>): void {
    this.#show('chat', event.detail)
  }

  #onNavigate(event: CustomEvent<Page>): void {
    this.#show(event.detail, undefined)
  }

  #show(page: Page, selected: string | undefined): void {
    this.page = page
    this.selected = selected
    this.conversations?.remember(page === 'chat' ? selected : undefined)
    this.notifications?.showing(page === 'chat' ? selected : undefined)
  }

  /** A mention picked in the Mentions view, or a search result: its conversation opens at the message. */
  #onJump(event: CustomEvent<OpenTarget>): void {
    void this.#openAt(event.detail)
  }

  /** Opens `target`'s conversation at its message, if it names one (a jump, a notification clicked, a ring). */
  async #openAt(target: OpenTarget): Promise<void> {
    this.#show('chat', target.conversation)
    if (target.message === undefined) return
    await this.updateComplete
    const view = this.renderRoot.querySelector('sc-chat-view')
    if (view !== null) await view.showMessage(target.message)
  }

  /** The service worker says a notification was clicked (`notification-click.ts`): open it here. */
  readonly #onWorkerMessage = (event: MessageEvent): void => {
    const target = openTargetOfMessage(event.data)
    if (target !== undefined) this.toOpen = target
  }

  /** A window the service worker opened for a notification (`#open=…`): opened once signed in, the address cleaned. */
  #takeOpenFromUrl(): void {
    const target = openTargetOfHash(location.hash)
    if (target === undefined) return
    history.replaceState(null, '', location.pathname)
    this.toOpen = target
  }

  readonly #onHash = (): void => {
    this.#takeOpenFromUrl()
    // Signed out, the sign-in page names the room of the link just opened; signed in, it is joined.
    void this.#loaded?.then(({ app }) => {
      if (this.session?.status !== 'signed-in') this.invitedTo = app.invitedTo(location.hash)
    })
    void this.#openInviteFromUrl()
  }

  /** An invite link (`#invite=…`) joins its room once signed in, then leaves the address bar clean. */
  async #openInviteFromUrl(): Promise<void> {
    const conversations = this.conversations
    if (this.session?.status !== 'signed-in' || conversations === undefined || !location.hash.startsWith('#invite=')) {
      return
    }
    const invite = location.hash // joinInvite takes the `#invite=…` part as it is
    history.replaceState(null, '', location.pathname)
    this.invitedTo = undefined
    try {
      this.#show('chat', await conversations.joinInvite(invite))
      this.startProblem = undefined
    } catch (err) {
      this.startProblem = `This invite link did not work: ${err instanceof Error ? err.message : String(err)}`
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-app': ScApp
  }
}
