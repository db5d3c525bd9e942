import { css, html, LitElement } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { WalletChoice } from '../wallet/discover.ts'
import { baseStyles } from './styles.ts'

/** The wallets found in this browser, one button each; picking one dispatches `wallet-selected`. */
@customElement('sc-sign-in')
export class ScSignIn extends LitElement {
  static override styles = [
    baseStyles,
    css`
      ul {
        list-style: none;
        padding: 0;
        display: grid;
        gap: 0.5rem;
      }
      .invited {
        padding: 0.75rem 1rem;
        border-radius: 8px;
        background: #dbeafe;
      }
      button {
        display: inline-flex;
        align-items: center;
        gap: 0.5rem;
      }
    `,
  ]

  @property({ attribute: false }) wallets: WalletChoice[] = []
  @property({ type: Boolean }) busy = false
  @property() problem: string | undefined
  /** An invite link opened before sign-in: the room it is for, and what the room asks of its members. */
  @property({ attribute: false }) invitedTo: { name: string; requirement: string | undefined } | undefined

  override render() {
    return html`
      <section aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in with your wallet</h2>
        ${
          this.invitedTo === undefined
            ? ''
            : html`<p class="invited" data-testid="invited">
              You are invited to <strong># ${this.invitedTo.name}</strong>: sign in to join it.
              ${this.invitedTo.requirement ?? ''}
            </p>`
        }
        <p class="muted">
          Your wallet signs one message that lets this browser chat for you (no transaction, no gas). The first time on
          this device, it also signs one text twice: that derives the key of your encrypted vault here, and shows the
          wallet can derive it again.
        </p>
        ${
          this.wallets.length === 0
            ? html`<p role="alert">No wallet found in this browser. Install MetaMask (or another EIP-6963 wallet) and reload.</p>`
            : html`<ul>
              ${this.wallets.map(
                (wallet) => html`<li>
                  <button ?disabled=${this.busy} @click=${() => this.#select(wallet)}>
                    ${wallet.icon === undefined ? '' : html`<img src=${wallet.icon} alt="" width="24" height="24" />`}
                    Sign in with ${wallet.name}
                  </button>
                </li>`,
              )}
            </ul>`
        }
        ${this.busy ? html`<p role="status">Waiting for your wallet…</p>` : ''}
        ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
      </section>
    `
  }

  #select(wallet: WalletChoice): void {
    this.dispatchEvent(new CustomEvent('wallet-selected', { detail: wallet, bubbles: true, composed: true }))
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-sign-in': ScSignIn
  }
}
