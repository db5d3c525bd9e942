import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { conversationsContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { describeError } from '../state/errors.ts'
import { baseStyles, formStyles } from './styles.ts'

/** Joins a room from a pasted invite or invite link (QR codes open the link). */
@customElement('sc-join-room')
export class ScJoinRoom extends LitElement {
  static override styles = [
    baseStyles,
    formStyles,
    css`
      textarea {
        min-height: 6rem;
        padding: 0.5rem;
      }
    `,
  ]

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @state() private busy = false
  @state() private problem: string | undefined

  override render() {
    return html`
      <form @submit=${this.#submit} aria-labelledby="join-title">
        <h2 id="join-title">Join a room</h2>
        <label>Invite or invite link <textarea name="invite" required placeholder="securechat:… or https://…#invite=…"></textarea></label>
        <p class="muted">Scanning a room's QR code with your phone opens its invite link in SecureChat.</p>
        <button type="submit" ?disabled=${this.busy}>${this.busy ? 'Joining…' : 'Join'}</button>
        ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
      </form>
    `
  }

  async #submit(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    if (this.conversations === undefined) return
    const text = String(new FormData(event.target as HTMLFormElement).get('invite') ?? '')
    this.busy = true
    this.problem = undefined
    try {
      const id = await this.conversations.joinInvite(text)
      this.dispatchEvent(new CustomEvent('conversation-selected', { detail: id, bubbles: true, composed: true }))
    } catch (err) {
      this.problem = describeError(err)
    } finally {
      this.busy = false
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-join-room': ScJoinRoom
  }
}
