import { MAX_TEXT_BYTES } from '@securechat/sdk/constants'
import { css, html, LitElement, nothing } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { humanSize } from './format-size.ts'
import { MentionPicker, mentionPickerStyles } from './mention-picker.ts'
import { baseStyles } from './styles.ts'

/** From this share of `MAX_TEXT_BYTES` on, the composer shows how much is left. */
const SHOW_COUNT_FROM = 0.75

const utf8 = new TextEncoder()

/**
 * Where a message is written: Enter sends, Shift+Enter starts a new line. Its limit is the protocol's
 * (`MAX_TEXT_BYTES`, in UTF-8 bytes: an emoji takes four), told before sending — a count near it, and past it a
 * line saying by how much, with Send off. Nothing typed or pasted is ever cut. `send` is handed the text; the
 * composer is cleared at once, and the text put back if `send` throws and nothing new was typed meanwhile.
 */
@customElement('sc-composer')
export class ScComposer extends LitElement {
  static override styles = [
    baseStyles,
    mentionPickerStyles,
    css`
      form {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 0.25rem 0.5rem;
        padding-top: 0.5rem;
        align-items: end;
      }
      textarea {
        resize: none;
        /* Grows with what is written, up to a third of the screen; then it scrolls. */
        field-sizing: content;
        max-height: 33vh;
        padding: 0.625rem 0.5rem;
        line-height: 1.4;
      }
      .count {
        grid-column: 1 / -1;
        font-size: 0.8125rem;
        color: var(--sc-muted);
        margin: 0;
      }
      .attached {
        grid-column: 1 / -1;
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin: 0;
      }
      .buttons {
        display: flex;
        gap: 0.5rem;
      }
      .count.over {
        color: var(--sc-danger);
        font-weight: 600;
      }
    `,
  ]

  @property({ type: Boolean }) disabled = false
  /** The textarea's name to readers, and its placeholder's verb: "Message", or "Reply in thread". */
  @property() label = 'Message'
  @property({ attribute: false }) send: ((text: string) => Promise<void>) | undefined
  /**
   * Shares a file with the text as its caption; resolves false when it did not go (the file stays chosen). Absent: no
   * Attach button (a thread's composer), and a pasted file is not taken.
   */
  @property({ attribute: false }) shareFile: ((file: File, caption: string) => Promise<boolean>) | undefined
  /** The file chosen (Attach, a drop, a paste) to go with the next send. */
  @state() private file: File | undefined
  /** Whom `@` offers to mention (addresses); none: `@` is just a character. */
  @property({ attribute: false }) mentionables: readonly string[] = []
  /** UTF-8 bytes of what would be sent (trimmed, as it is sent). */
  @state() private bytes = 0
  @query('textarea') private input!: HTMLTextAreaElement | null
  @query('input[type=file]') private picker!: HTMLInputElement | null
  readonly #picker = new MentionPicker(this, () => this.input ?? undefined)

  override render() {
    const over = this.bytes > MAX_TEXT_BYTES
    const shown = over || this.bytes >= MAX_TEXT_BYTES * SHOW_COUNT_FROM
    this.#picker.candidates = this.mentionables
    const picker = this.#picker.aria
    const attaching = this.shareFile !== undefined
    return html`<form @submit=${this.#submit}>
      ${
        this.file === undefined
          ? ''
          : html`<p class="attached" data-testid="attached"><span>Attached: <strong dir="auto">${this.file.name}</strong> (${humanSize(this.file.size)})</span>
            <button type="button" class="secondary" @click=${this.#detach} aria-label=${`Remove the attached file ${this.file.name}`}>Remove</button></p>`
      }
      <label class="visually-hidden" for="composer">${this.label}</label>
      <textarea
        id="composer"
        name="text"
        rows="1"
        autocomplete="off"
        placeholder=${this.label === 'Message' ? 'Write a message' : this.label}
        aria-describedby="count"
        aria-invalid=${over ? 'true' : 'false'}
        aria-autocomplete="list"
        aria-controls=${picker.controls ?? nothing}
        aria-activedescendant=${picker.active ?? nothing}
        ?disabled=${this.disabled}
        @input=${this.#measure}
        @paste=${this.#onPaste}
        @keydown=${this.#onKey}
        @keyup=${this.#onKeyUp}
        @click=${() => this.#picker.sync()}
        @blur=${() => this.#picker.close()}
      ></textarea>
      <div class="buttons">
        ${
          attaching
            ? html`<input type="file" hidden @change=${this.#onPicked} />
              <button type="button" class="secondary" aria-label="Attach a file" ?disabled=${this.disabled} @click=${() => this.picker?.click()}>Attach</button>`
            : ''
        }
        <button type="submit" ?disabled=${this.disabled || over}>Send</button>
      </div>
      ${this.#picker.render()}
      <p id="count" class=${over ? 'count over' : 'count'} role="status" data-testid="composer-count">${
        !shown
          ? ''
          : over
            ? `Too long by ${(this.bytes - MAX_TEXT_BYTES).toLocaleString('en')} bytes: a message holds ${MAX_TEXT_BYTES.toLocaleString('en')} (emoji and many scripts take 2–4 bytes a character).`
            : `${this.bytes.toLocaleString('en')} of ${MAX_TEXT_BYTES.toLocaleString('en')} bytes`
      }</p>
    </form>`
  }

  /** Takes `file` to go with the next send (a file dropped on the conversation); ignored without {@link shareFile}. */
  attach(file: File): void {
    if (this.shareFile === undefined || this.disabled) return
    this.file = file
    this.input?.focus()
  }

  /** Puts the cursor in the textarea (a thread opened from the keyboard is written in at once). */
  focusInput(): void {
    this.input?.focus()
  }

  #measure(): void {
    this.bytes = utf8.encode(this.input?.value.trim() ?? '').byteLength
    this.#picker.sync()
  }

  /** The cursor moved along the text: the `@` picker follows (opens on an `@…` the cursor is in, closes off it). */
  #onKeyUp(event: KeyboardEvent): void {
    if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) this.#picker.sync()
  }

  #onKey(event: KeyboardEvent): void {
    if (this.#picker.onKey(event)) return
    // Shift+Enter is a new line; Enter while an input method composes a word (Japanese, Chinese) is its.
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    this.#submit()
  }

  readonly #onPicked = (): void => {
    const picked = this.picker?.files?.[0]
    if (picked !== undefined) this.attach(picked)
    // The same file picked again (after Remove) fires `change` again.
    if (this.picker !== null) this.picker.value = ''
  }

  /** A pasted file (a screenshot, a copied file) is attached; pasted text stays the textarea's. */
  readonly #onPaste = (event: ClipboardEvent): void => {
    const pasted = event.clipboardData?.files[0]
    if (pasted === undefined || this.shareFile === undefined) return
    event.preventDefault()
    this.attach(pasted)
  }

  readonly #detach = (): void => {
    this.file = undefined
    this.input?.focus()
  }

  async #submit(event?: SubmitEvent): Promise<void> {
    event?.preventDefault()
    const input = this.input
    if (input === null || this.send === undefined || this.disabled) return
    if (this.file !== undefined) return this.#submitFile(input, this.file)
    const text = input.value.trim()
    if (text === '' || utf8.encode(text).byteLength > MAX_TEXT_BYTES) return
    // Cleared at once, not once the send resolves: a send can take a while (a gated room's chain read, the
    // relay's store), and clearing after it wiped what the person had typed meanwhile — their next message.
    input.value = ''
    this.#measure()
    try {
      await this.send(text)
    } catch {
      // Not lost (the caller says why): back in the composer unless something new is being typed there.
      if (input.value === '') input.value = text
      this.#measure()
    }
  }

  /** The chosen file, the text its caption; both cleared at once and put back if it did not go (as a text is). */
  async #submitFile(input: HTMLTextAreaElement, file: File): Promise<void> {
    const caption = input.value.trim()
    if (utf8.encode(caption).byteLength > MAX_TEXT_BYTES || this.shareFile === undefined) return
    input.value = ''
    this.file = undefined
    this.#measure()
    if (await this.shareFile(file, caption)) return
    if (this.file === undefined) this.file = file
    if (input.value === '') input.value = caption
    this.#measure()
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-composer': ScComposer
  }
}
