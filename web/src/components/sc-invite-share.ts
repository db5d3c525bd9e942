import { css, html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import qrcode from 'qrcode-generator'
import { baseStyles } from './styles.ts'

/** A room's invite link, with a copy button and a QR code to open it on a phone. */
@customElement('sc-invite-share')
export class ScInviteShare extends LitElement {
  static override styles = [
    baseStyles,
    css`
      .link {
        display: flex;
        gap: 0.5rem;
      }
      input {
        flex: 1;
        min-width: 0;
      }
      img {
        image-rendering: pixelated;
        margin-top: 0.5rem;
      }
    `,
  ]

  @property() link = ''
  @state() private copied = false

  override render() {
    return html`
      <label
        >Invite link
        <div class="link">
          <input readonly .value=${this.link} @focus=${(e: Event) => (e.target as HTMLInputElement).select()} />
          <button class="secondary" @click=${this.#copy}>${this.copied ? 'Copied' : 'Copy'}</button>
        </div>
      </label>
      ${this.#qr()}
    `
  }

  #qr() {
    try {
      const qr = qrcode(0, 'L')
      qr.addData(this.link)
      qr.make()
      // A GIF data: URL (img-src allows data:), never markup: nothing here passes through innerHTML.
      return html`<img src=${qr.createDataURL(3, 4)} alt="QR code of the invite link" />`
    } catch {
      return html`<p class="muted">This invite is too long for a QR code; share the link.</p>`
    }
  }

  async #copy(): Promise<void> {
    await navigator.clipboard?.writeText(this.link).catch(() => {})
    this.copied = true
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-invite-share': ScInviteShare
  }
}
