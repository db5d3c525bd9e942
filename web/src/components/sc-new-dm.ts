import { consume } from '@lit/context'
import { isAddress } from 'ethers'
import { html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { conversationsContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { baseStyles, formStyles } from './styles.ts'

/** Starts a direct-message conversation with a wallet address. */
@customElement('sc-new-dm')
export class ScNewDm extends LitElement {
  static override styles = [baseStyles, formStyles]

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @state() private problem: string | undefined

  override render() {
    return html`
      <form @submit=${this.#submit} aria-labelledby="dm-title">
        <h2 id="dm-title">Message a wallet</h2>
        <label>Wallet address <input name="address" required placeholder="0x…" autocomplete="off" /></label>
        <p class="muted">End-to-end encrypted to every device of that wallet that is signed in to SecureChat.</p>
        <button type="submit">Open conversation</button>
        ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
      </form>
    `
  }

  #submit(event: SubmitEvent): void {
    event.preventDefault()
    const address = String(new FormData(event.target as HTMLFormElement).get('address') ?? '').trim()
    if (!isAddress(address)) {
      this.problem = 'That is not an Ethereum address (0x followed by 40 hex digits).'
      return
    }
    const id = this.conversations?.openDm(address)
    if (id !== undefined) {
      this.dispatchEvent(new CustomEvent('conversation-selected', { detail: id, bubbles: true, composed: true }))
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-new-dm': ScNewDm
  }
}
