import { consume } from '@lit/context'
import type { RoomMember } from '@securechat/sdk/types'
import { css, html, LitElement, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import { type ChatSession, describeError } from '../state/chat-session.ts'
import { SessionController, sessionContext } from '../state/context.ts'
import type { ChatEntry } from '../state/history-store.ts'
import './sc-anchor-action.ts'
import './sc-anchor-mark.ts'
import './sc-invite-share.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** How near the bottom (px) still counts as reading the newest messages. */
const FOLLOW_NEWEST_SLACK_PX = 48

/** One conversation (room or DM): its state, members, messages and the composer. */
@customElement('sc-chat-view')
export class ScChatView extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: grid;
        grid-template-rows: auto 1fr auto;
        height: 100%;
        min-height: 0;
      }
      header {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        justify-content: space-between;
        border-bottom: 1px solid var(--sc-border);
        padding-bottom: 0.5rem;
      }
      h2 {
        margin: 0;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: start;
        justify-content: end;
      }
      /* The messages scroll, not the page: header and composer stay in place. */
      .body {
        display: flex;
        flex-direction: column;
        min-height: 0;
      }
      ol {
        flex: 1;
        min-height: 0;
        list-style: none;
        margin: 0;
        padding: 0.5rem 0;
        overflow-y: auto;
        display: grid;
        align-content: start;
        gap: 0.5rem;
      }
      li {
        background: var(--sc-panel);
        border-radius: 8px;
        padding: 0.5rem 0.75rem;
        max-width: 80%;
        overflow-wrap: anywhere;
      }
      li.mine {
        justify-self: end;
        background: #dbeafe;
      }
      li.undecryptable {
        border: 1px dashed var(--sc-danger);
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
      form {
        display: flex;
        gap: 0.5rem;
        padding-top: 0.5rem;
      }
      form input {
        flex: 1;
        min-width: 0;
      }
      .state {
        padding: 1rem;
        border-radius: 8px;
        background: #fef3c7;
      }
      details {
        margin: 0.5rem 0;
      }
    `,
  ]

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: ChatSession | undefined

  @property() conversation = ''
  @state() private problem: string | undefined
  @query('ol') private list: HTMLOListElement | undefined

  readonly #controller = new SessionController(this)
  /** Whether this update should end at the newest message: someone reading older ones stays where they are. */
  #followNewest = true

  override willUpdate(changed: PropertyValues<this>): void {
    const list = this.list
    this.#followNewest =
      changed.has('conversation') ||
      list === undefined ||
      list.scrollHeight - list.scrollTop - list.clientHeight <= FOLLOW_NEWEST_SLACK_PX
    this.#controller.session = this.session
    // Unchanged room: a no-op. Called on every update, so a session that signs in later starts checking.
    this.session?.watchAnchors(this.conversation)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.session?.watchAnchors(undefined)
  }

  override updated(changed: PropertyValues<this>): void {
    if (this.#followNewest) this.list?.scrollTo({ top: this.list.scrollHeight })
    if (changed.has('conversation')) this.problem = undefined
    if (document.visibilityState === 'visible') this.session?.markRead(this.conversation)
  }

  override render() {
    const session = this.session
    const view = session?.conversations.get(this.conversation)
    if (session === undefined || view === undefined) return html`<p class="muted">Pick a conversation.</p>`
    const isRoom = view.saved.kind === 'room'
    const title = isRoom ? `# ${view.saved.name}` : `DM with ${view.saved.name}`
    const link = session.inviteLink(view.saved.id)
    const others = view.members.filter((m) => m.address !== session.address)
    return html`
      <header>
        <div>
          <h2>${title}</h2>
          ${
            isRoom
              ? html`<span class="meta" data-testid="members">${others.length === 0 ? 'nobody else here right now' : `here: ${others.map((m) => this.#memberLabel(m)).join(', ')}`}</span>`
              : ''
          }
        </div>
        <div class="actions">
          ${isRoom && view.state === 'joined' && session.canAnchor ? html`<sc-anchor-action .room=${view.saved.id}></sc-anchor-action>` : ''}
          <button class="secondary" @click=${this.#leave}>${isRoom ? 'Leave room' : 'Close'}</button>
        </div>
      </header>
      <div class="body">
        ${this.#stateNotice(view.state, view.problem, session.network)}
        ${link === undefined || view.state !== 'joined' ? '' : html`<details><summary>Invite people</summary><sc-invite-share .link=${link}></sc-invite-share></details>`}
        <ol role="log" aria-live="polite" aria-label="Messages">
          ${repeat(
            session.history(this.conversation),
            (entry) => entry.id,
            (entry) => this.#message(entry),
          )}
        </ol>
      </div>
      <form @submit=${this.#send}>
        <label class="visually-hidden" for="composer">Message</label>
        <input id="composer" name="text" autocomplete="off" maxlength="4000" ?disabled=${view.state !== 'joined'} placeholder="Write a message" />
        <button type="submit" ?disabled=${view.state !== 'joined'}>Send</button>
      </form>
      ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
    `
  }

  /** `0x12…ab (direct)` when this browser reaches the member over its own WebRTC connection, not via a relay. */
  #memberLabel(member: RoomMember): string {
    const direct = this.session?.client?.directConnections?.isDirect(member.peerId) === true
    return `${shortAddress(member.address)}${direct ? ' (direct)' : ''}`
  }

  #stateNotice(state: string, problem: string | undefined, network: string) {
    if (state === 'not-eligible') {
      return html`<div class="state" role="status" data-testid="not-eligible"><strong>You are not eligible for this room.</strong> ${problem ?? ''}</div>`
    }
    if (state === 'error') return html`<div class="state" role="alert">${problem}</div>`
    if (network === 'offline')
      return html`<div class="state" role="status">Offline: showing what this device has; new messages wait for the network.</div>`
    if (state === 'joining' || network === 'connecting') return html`<div class="state" role="status">Connecting…</div>`
    return ''
  }

  #message(entry: ChatEntry) {
    const time = new Date(entry.sentAtMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    if (entry.state === 'undecryptable') {
      return html`<li class="undecryptable" data-message-id=${entry.id}>
        <span class="meta">${shortAddress(entry.sender)} · ${time}</span>
        <div>Cannot decrypt this message: ${entry.reason}</div>
        ${this.#anchorMark(entry)}
      </li>`
    }
    return html`<li class=${entry.mine ? 'mine' : ''} data-message-id=${entry.id}>
      <span class="meta" title=${entry.sender}>${entry.mine ? 'you' : shortAddress(entry.sender)} · ${time}</span>
      <div class="text">${entry.text}</div>
      ${this.#anchorMark(entry)}
    </li>`
  }

  #anchorMark(entry: ChatEntry) {
    if (entry.anchor === undefined) return ''
    return html`<sc-anchor-mark .anchor=${entry.anchor} messageId=${entry.id}></sc-anchor-mark>`
  }

  async #send(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    const form = event.target as HTMLFormElement
    const input = form.elements.namedItem('text') as HTMLInputElement
    const text = input.value.trim()
    if (text === '' || this.session === undefined) return
    this.problem = undefined
    try {
      await this.session.send(this.conversation, text)
      input.value = ''
    } catch (err) {
      this.problem = describeError(err)
    }
  }

  async #leave(): Promise<void> {
    await this.session?.leave(this.conversation)
    this.dispatchEvent(new CustomEvent('conversation-selected', { detail: undefined, bubbles: true, composed: true }))
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-chat-view': ScChatView
  }
}
