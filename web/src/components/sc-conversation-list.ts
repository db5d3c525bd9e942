import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ChangeController, conversationsContext, sessionContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { unreadMentions } from '../state/mentions.ts'
import type { Session } from '../state/session.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** Joined rooms and DMs with unread counts; selecting one dispatches `conversation-selected`. */
@customElement('sc-conversation-list')
export class ScConversationList extends LitElement {
  static override styles = [
    baseStyles,
    css`
      ul {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.25rem;
      }
      li button {
        width: 100%;
        text-align: left;
        display: flex;
        justify-content: space-between;
        align-items: center;
        background: var(--sc-bg);
        color: var(--sc-fg);
        border-color: var(--sc-border);
      }
      li button[aria-current='true'] {
        border-color: var(--sc-accent);
        background: #dbeafe;
      }
      .badge {
        background: var(--sc-accent);
        color: var(--sc-accent-fg);
        border-radius: 999px;
        padding: 0 0.5rem;
        font-size: 0.875rem;
      }
      /* Beside the unread count: something unread here mentions this wallet. */
      .mention-mark {
        margin-inline-start: auto;
        margin-inline-end: 0.25rem;
        font-weight: 700;
        color: var(--sc-accent);
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        margin-bottom: 1rem;
      }
    `,
  ]

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @property() selected: string | undefined

  readonly #controller = new ChangeController<Conversations>(this, 'conversations:changed')

  override willUpdate(): void {
    this.#controller.target = this.conversations
  }

  override render() {
    const views = this.conversations?.list ?? []
    const me = this.session?.address
    const conversations = this.conversations
    const mentions = new Map(
      me === undefined || conversations === undefined
        ? []
        : views.map((view) => [view.id, unreadMentions(conversations, view, me)]),
    )
    const unreadMentionCount = [...mentions.values()].reduce((sum, n) => sum + n, 0)
    return html`
      <nav aria-label="Conversations">
        <div class="actions">
          <button @click=${() => this.#action('create-room')}>New room</button>
          <button class="secondary" @click=${() => this.#action('join-room')}>Join</button>
          <button class="secondary" @click=${() => this.#action('new-dm')}>Message a wallet</button>
          <button class="secondary" @click=${() => this.#action('mentions')}>
            Mentions${unreadMentionCount === 0 ? '' : html` <span class="badge" aria-label="${unreadMentionCount} unread">${unreadMentionCount}</span>`}
          </button>
          <sc-signal-settings></sc-signal-settings>
        </div>
        ${views.length === 0 ? html`<p class="muted">No rooms yet: create one or join with an invite.</p>` : ''}
        <ul>
          ${views.map((view) => {
            const label = view.kind === 'dm' ? `DM ${shortAddress(view.name)}` : `# ${view.name}`
            const mentioned = (mentions.get(view.id) ?? 0) > 0
            return html`<li>
              <button
                aria-current=${view.id === this.selected ? 'true' : 'false'}
                data-conversation=${view.id}
                @click=${() => this.#select(view.id)}
              >
                <span>${label}</span>
                ${mentioned ? html`<span class="mention-mark" data-testid="mention-mark" title="Mentions you" aria-label="mentions you">@</span>` : ''}
                ${
                  view.unread > 0
                    ? html`<span class="badge" aria-label="${view.unread} unread">${view.unread}</span>`
                    : view.state === 'not-eligible'
                      ? html`<span class="muted">locked</span>`
                      : ''
                }
              </button>
            </li>`
          })}
        </ul>
      </nav>
    `
  }

  #select(id: string): void {
    this.dispatchEvent(new CustomEvent('conversation-selected', { detail: id, bubbles: true, composed: true }))
  }

  #action(name: string): void {
    this.dispatchEvent(new CustomEvent('navigate', { detail: name, bubbles: true, composed: true }))
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-conversation-list': ScConversationList
  }
}
