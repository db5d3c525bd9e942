import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ChangeController, conversationsContext, sessionContext, signalsContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import type { Session } from '../state/session.ts'
import type { Signals } from '../state/signals.ts'
import { baseStyles, shortAddress } from './styles.ts'

/**
 * One compact line under a conversation: who is typing, else how far the last message got — in a room "Seen by …"
 * (the members whose read position reached it), in a DM "Sent", "Delivered" or "Read" for one's own last message.
 * Nothing while receipts and typing are off (`state/signals.ts`).
 */
@customElement('sc-conversation-status')
export class ScConversationStatus extends LitElement {
  static override styles = [
    baseStyles,
    css`
      /* No room taken while there is nothing to say: on a phone the messages keep the screen. */
      :host {
        display: block;
        padding: 0 0.75rem;
        font-size: 0.75rem;
        line-height: 1.2;
        color: var(--sc-muted);
      }
      p {
        margin: 0;
      }
      p:empty {
        display: none;
      }
    `,
  ]

  /** The conversation's id (a room's id, or the other wallet's address). */
  @property() conversation = ''

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @consume({ context: signalsContext, subscribe: true })
  @property({ attribute: false })
  signals: Signals | undefined

  readonly #conversationChanges = new ChangeController<Conversations>(this, 'conversations:changed')
  readonly #signalChanges = new ChangeController<Signals>(this, 'signals:changed')

  override willUpdate(): void {
    this.#conversationChanges.target = this.conversations
    this.#signalChanges.target = this.signals
  }

  override render() {
    const typing = this.signals?.typingIn(this.conversation) ?? []
    return html`<p role="status" data-testid="typing">${typingLine(typing)}</p>
      <p data-testid="receipt">${typing.length === 0 ? this.#receipt() : ''}</p>`
  }

  #receipt(): string {
    const { conversations, signals, session } = this
    const view = conversations?.get(this.conversation)
    if (conversations === undefined || signals === undefined || view === undefined) return ''
    if (!signals.settings.receipts) return ''
    const history = conversations.history(this.conversation)
    const last = history.at(-1)
    if (last === undefined || last.state !== 'ok') return ''
    const self = session?.address?.toLowerCase()
    const seen = signals
      .seenBy(this.conversation, last, history)
      .filter((address) => address.toLowerCase() !== self && address.toLowerCase() !== last.sender.toLowerCase())
    if (view.kind === 'room') return seen.length === 0 ? '' : `Seen by ${seen.map(shortAddress).join(', ')}`
    if (!last.mine) return ''
    if (seen.length > 0) return 'Read'
    return (last.delivery ?? []).some((device) => device.status === 'delivered') ? 'Delivered' : 'Sent'
  }
}

function typingLine(addresses: string[]): string {
  if (addresses.length === 0) return ''
  const names = addresses.map(shortAddress)
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`
  return 'Several people are typing…'
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-conversation-status': ScConversationStatus
  }
}
