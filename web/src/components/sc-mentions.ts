import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { ChangeController, conversationsContext, notificationsContext, sessionContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { excerpt, type MentionItem, myMentions } from '../state/mentions.ts'
import type { Notifications } from '../state/notifications.ts'
import type { Session } from '../state/session.ts'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** Characters of a message the list shows; the whole of it is a click away. */
const EXCERPT_CHARS = 160

/**
 * The Mentions view: every message that mentions this wallet, across rooms and DMs, newest first, each opening its
 * conversation at the message (`message-jump`); and the notifications setting.
 */
@customElement('sc-mentions')
export class ScMentions extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: block;
        overflow-y: auto;
      }
      h2 {
        margin-top: 0;
      }
      ul {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.5rem;
      }
      li button {
        width: 100%;
        text-align: start;
        display: grid;
        gap: 0.125rem;
        background: var(--sc-panel);
        color: var(--sc-fg);
        border-color: var(--sc-border);
        overflow-wrap: anywhere;
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
      .setting {
        margin: 0 0 1rem;
        padding: 0.5rem 0.75rem;
        border: 1px solid var(--sc-border);
        border-radius: 8px;
      }
      .setting label {
        display: flex;
        gap: 0.5rem;
        align-items: center;
      }
    `,
  ]

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @consume({ context: notificationsContext, subscribe: true })
  @property({ attribute: false })
  notifications: Notifications | undefined

  @state() private busy = false

  readonly #conversationChanges = new ChangeController<Conversations>(this, 'conversations:changed')
  readonly #notificationChanges = new ChangeController<Notifications>(this, 'notifications:changed')

  override willUpdate(): void {
    this.#conversationChanges.target = this.conversations
    this.#notificationChanges.target = this.notifications
  }

  override render() {
    const me = this.session?.address
    const items = me === undefined || this.conversations === undefined ? [] : myMentions(this.conversations, me)
    return html`
      <section aria-labelledby="mentions-title">
        <h2 id="mentions-title">Mentions</h2>
        ${this.#setting()}
        ${
          items.length === 0
            ? html`<p class="muted" data-testid="no-mentions">Nobody has mentioned you yet.</p>`
            : html`<ul data-testid="mentions">${items.map((item) => this.#item(item))}</ul>`
        }
      </section>
    `
  }

  #setting() {
    const notifications = this.notifications
    if (notifications === undefined) return ''
    const state = notifications.state
    const note =
      state === 'unsupported'
        ? 'This browser does not show notifications.'
        : state === 'blocked'
          ? 'The browser blocks notifications for this site: allow them in its site settings first.'
          : 'For a mention of you and for every direct message, unless its conversation is open in front of you. The browser asks first.'
    return html`<div class="setting">
      <label>
        <input
          type="checkbox"
          data-testid="notifications-toggle"
          .checked=${state === 'on'}
          ?disabled=${this.busy || state === 'unsupported' || state === 'blocked'}
          aria-describedby="notifications-note"
          @change=${this.#toggle}
        />
        Notify me of mentions and direct messages
      </label>
      <p id="notifications-note" class="meta">${note}</p>
      ${notifications.problem === undefined ? '' : html`<p class="error" role="alert">${notifications.problem}</p>`}
    </div>`
  }

  #item({ conversation, entry }: MentionItem) {
    const where = conversation.kind === 'dm' ? `DM with ${shortAddress(conversation.name)}` : `# ${conversation.name}`
    return html`<li>
      <button
        type="button"
        data-message-id=${entry.id}
        @click=${() => this.#jump(conversation.id, entry.id)}
      >
        <span class="meta"
          >${where} · ${shortAddress(entry.sender)} ·
          <time datetime=${isoDateTime(entry.sentAtMs)} title=${dateTime(entry.sentAtMs)}
            >${shortTime(entry.sentAtMs)}</time
          ></span
        >
        <span dir="auto">${excerpt(entry.text, EXCERPT_CHARS)}</span>
      </button>
    </li>`
  }

  async #toggle(event: Event): Promise<void> {
    const input = event.target as HTMLInputElement
    this.busy = true
    try {
      await this.notifications?.setOn(input.checked)
    } finally {
      this.busy = false
      input.checked = this.notifications?.state === 'on'
    }
  }

  #jump(conversation: string, message: string): void {
    this.dispatchEvent(
      new CustomEvent('message-jump', { detail: { conversation, message }, bubbles: true, composed: true }),
    )
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-mentions': ScMentions
  }
}
