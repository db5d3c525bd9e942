import { css, html, LitElement } from 'lit'
import { customElement, query, state } from 'lit/decorators.js'
import { baseStyles } from './styles.ts'

/** What a confirmation asks: a question, what will happen, and the button that does it; `choice`, one to pick. */
export interface Confirmation {
  title: string
  body: string
  confirm: string
  /** A choice to make first (a mute's length): its label and options, the first picked at the start. */
  choice?: { label: string; options: ReadonlyArray<{ label: string; value: string }> }
}

/**
 * A modal question before a destructive action (a ban, a removal, handing a room over): it says what will happen, and
 * nothing does unless its button is pressed. `ask` resolves with the choice made (`''` without one) for that button,
 * undefined for Cancel or Escape. The
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
      p,
      label {
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
  @query('dialog') private dialog!: HTMLDialogElement | null
  @query('button.cancel') private cancel!: HTMLButtonElement | null
  @query('select') private select!: HTMLSelectElement | null
  #answer: ((choice: string | undefined) => void) | undefined

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
      ${
        asked?.choice === undefined
          ? ''
          : html`<label>${asked.choice.label}
              <select>
                ${asked.choice.options.map((option) => html`<option value=${option.value}>${option.label}</option>`)}
              </select>
            </label>`
      }
      <div class="buttons">
        <button class="secondary cancel" @click=${() => this.#settle(false)}>Cancel</button>
        <button class="danger" @click=${() => this.#settle(true)}>${asked?.confirm ?? ''}</button>
      </div>
    </dialog>`
  }

  async ask(confirmation: Confirmation): Promise<string | undefined> {
    this.#settle(false)
    this.asked = confirmation
    await this.updateComplete
    // @query gives null without a choice.
    if (this.select) this.select.selectedIndex = 0
    const answer = new Promise<string | undefined>((resolve) => {
      this.#answer = resolve
    })
    this.dialog?.showModal()
    this.cancel?.focus()
    return answer
  }

  #settle(confirmed: boolean): void {
    const answer = this.#answer
    this.#answer = undefined
    const choice = this.select?.value ?? ''
    if (this.dialog?.open === true) this.dialog.close()
    answer?.(confirmed ? choice : undefined)
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-confirm-dialog': ScConfirmDialog
  }
}
