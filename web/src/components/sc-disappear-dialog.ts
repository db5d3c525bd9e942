import { css, html, LitElement } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import {
  DISAPPEAR_CHOICES_SECONDS,
  DISAPPEAR_MAX_SECONDS,
  DISAPPEAR_MIN_SECONDS,
  describeTimer,
  isTimerSeconds,
} from '../state/disappearing.ts'
import { describeError } from '../state/errors.ts'
import { baseStyles } from './styles.ts'

/**
 * A conversation's disappearing-messages timer: a header button naming it ("Disappearing: 1 hour") that opens a
 * dialog to change it — off, the usual choices, or a number of seconds (10 at least). In a room only its owner may:
 * anyone else sees why, and nothing to press.
 */
@customElement('sc-disappear-dialog')
export class ScDisappearDialog extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: inline-block;
      }
      dialog {
        max-width: min(32rem, 92vw);
        border: 1px solid var(--sc-border);
        border-radius: 8px;
        color: var(--sc-fg);
      }
      h3 {
        margin-top: 0;
      }
      fieldset {
        border: 0;
        padding: 0;
        margin: 0 0 1rem;
        display: grid;
        gap: 0.25rem;
      }
      legend {
        font-weight: 600;
        margin-bottom: 0.25rem;
      }
      label.choice {
        display: flex;
        align-items: center;
        gap: 0.5rem;
        font-weight: 400;
        min-height: 32px;
      }
      label.choice input {
        min-height: auto;
      }
      .buttons {
        display: flex;
        gap: 0.5rem;
        justify-content: end;
      }
      .refused {
        color: var(--sc-fg);
        background: var(--sc-panel);
        padding: 0.5rem;
        border-radius: 8px;
      }
    `,
  ]

  /** The timer in force, in seconds (0 or undefined: off). */
  @property({ type: Number }) seconds: number | undefined
  /** Why this wallet may not change it (a room's member who is not its owner), if so. */
  @property() refusal: string | undefined
  /** Sets the timer; rejects with what went wrong. */
  @property({ attribute: false }) set: ((seconds: number) => Promise<void>) | undefined

  @state() private choice = 'off'
  @state() private problem: string | undefined
  @state() private busy = false
  @query('dialog') private dialog!: HTMLDialogElement | null

  override render() {
    const current = this.seconds ?? 0
    const refused = this.refusal !== undefined
    const choices = [0, ...DISAPPEAR_CHOICES_SECONDS]
    const radio = (value: string, label: string) =>
      html`<label class="choice"><input type="radio" name="timer" .value=${value} ?checked=${this.choice === value}
        ?disabled=${refused} @change=${() => {
          this.choice = value
        }}>${label}</label>`
    return html`
      <button class="secondary" aria-haspopup="dialog" data-testid="disappear-button" @click=${this.#open}>
        Disappearing: ${describeTimer(current)}
      </button>
      <dialog aria-labelledby="disappear-title" data-testid="disappear-dialog">
        <h3 id="disappear-title">Disappearing messages</h3>
        <p>
          Messages sent from now on disappear from every member's device — the conversation, this browser's vault and
          its search — this long after they were sent. Earlier messages keep the timer they had. Relays only ever held
          ciphertext, and keep it for their retention whatever the timer.
        </p>
        ${refused ? html`<p class="refused" role="note" data-testid="disappear-refusal">${this.refusal}</p>` : ''}
        <form @submit=${this.#submit}>
          <fieldset>
            <legend>Messages disappear after</legend>
            ${choices.map((seconds) => radio(String(seconds), seconds === 0 ? 'Off' : describeTimer(seconds)))}
            ${radio('other', 'Another time, in seconds:')}
            <label class="visually-hidden" for="other-seconds">Seconds</label>
            <input id="other-seconds" type="number" min=${DISAPPEAR_MIN_SECONDS} max=${DISAPPEAR_MAX_SECONDS} step="1" name="seconds"
              ?disabled=${refused || this.choice !== 'other'} data-testid="disappear-seconds">
          </fieldset>
          ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
          <div class="buttons">
            <button type="button" class="secondary" @click=${this.#close}>Cancel</button>
            <button type="submit" ?disabled=${refused || this.busy}>Set</button>
          </div>
        </form>
      </dialog>
    `
  }

  #open(): void {
    const current = this.seconds ?? 0
    this.choice = current === 0 || DISAPPEAR_CHOICES_SECONDS.some((s) => s === current) ? String(current) : 'other'
    this.problem = undefined
    this.dialog?.showModal()
  }

  #close(): void {
    this.dialog?.close()
  }

  async #submit(event: Event): Promise<void> {
    event.preventDefault()
    const set = this.set
    if (set === undefined || this.refusal !== undefined) return
    const other = this.renderRoot.querySelector<HTMLInputElement>('#other-seconds')
    const seconds = this.choice === 'other' ? Number(other?.value ?? '') : Number(this.choice)
    if (!isTimerSeconds(seconds)) {
      this.problem = `Give a whole number of seconds, ${DISAPPEAR_MIN_SECONDS} to ${DISAPPEAR_MAX_SECONDS.toLocaleString('en')} (${describeTimer(DISAPPEAR_MAX_SECONDS)}).`
      return
    }
    this.busy = true
    try {
      await set(seconds)
      this.#close()
    } catch (err) {
      this.problem = describeError(err)
    } finally {
      this.busy = false
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-disappear-dialog': ScDisappearDialog
  }
}
