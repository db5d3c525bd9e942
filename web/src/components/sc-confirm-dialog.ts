import { css, html, LitElement } from 'lit'
import { customElement, query, state } from 'lit/decorators.js'
import { baseStyles } from './styles.ts'

/** What a confirmation asks: a question, what will happen, and the button that does it. */
export interface Confirmation {
  title: string
  body: string
  confirm: string
}

/**
 * A modal question before a destructive action (a ban, a removal, handing a room over): it says what will happen, and
 * nothing does unless its button is pressed. `ask` resolves true for that button, false for Cancel or Escape. The
 * focus starts on Cancel: Enter alone never bans anyone.
 */
@customElement('sc-confirm-dialog')
export class ScConfirmDialog extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: contents;
      }
      dialog {
        width: min(26rem, 90vw);
        border: 1px solid var(--sc-border);
        border-radius: 8px;
        color: var(--sc-fg);
        padding: 1rem;
      }
      h4 {
        margin: 0 0 0.5rem;
        overflow-wrap: anywhere;
      }
      p {
        margin: 0 0 1rem;
      }
      .buttons {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        justify-content: end;
      }
      button.danger {
        background: var(--sc-danger);
        border-color: var(--sc-danger);
      }
    `,
  ]

  @state() private asked: Confirmation | undefined
  @query('dialog') private dialog: HTMLDialogElement | undefined
  @query('button.cancel') private cancel: HTMLButtonElement | undefined
  #answer: ((confirmed: boolean) => void) | undefined

  override render() {
    const asked = this.asked
    return html`<dialog
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      data-testid="confirm-dialog"
      @close=${() => this.#settle(false)}
    >
      <h4 id="confirm-title">${asked?.title ?? ''}</h4>
      <p id="confirm-body">${asked?.body ?? ''}</p>
      <div class="buttons">
        <button class="secondary cancel" @click=${() => this.#settle(false)}>Cancel</button>
        <button class="danger" @click=${() => this.#settle(true)}>${asked?.confirm ?? ''}</button>
      </div>
    </dialog>`
  }

  async ask(confirmation: Confirmation): Promise<boolean> {
    this.#settle(false)
    this.asked = confirmation
    await this.updateComplete
    const answer = new Promise<boolean>((resolve) => {
      this.#answer = resolve
    })
    this.dialog?.showModal()
    this.cancel?.focus()
    return answer
  }

  #settle(confirmed: boolean): void {
    const answer = this.#answer
    this.#answer = undefined
    if (this.dialog?.open === true) this.dialog.close()
    answer?.(confirmed)
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-confirm-dialog': ScConfirmDialog
  }
}
