import { css, html, type ReactiveController, type ReactiveControllerHost } from 'lit'
import { shortAddress } from './styles.ts'

/** Members the picker lists at most: the rest come as more of the address is typed. */
const MAX_OPTIONS = 8

/** `@` and what follows it up to the cursor, at the start or after a space or punctuation (not `a@b`). */
const TYPING_MENTION = /(?:^|[^\p{L}\p{N}_])@([0-9a-zA-Z]{0,42})$/u

/**
 * The composer's `@` picker: typing `@` offers the conversation's members (`candidates`), narrowed by what follows
 * the `@`; ArrowDown/ArrowUp move, Enter or Tab inserts `@0x…` (the whole address: what mentions a member,
 * `@securechat/sdk/mentions`), Escape closes it. An ARIA listbox whose active option the textarea names
 * (`aria-activedescendant`), so a screen reader follows the arrows while the focus stays in the text.
 */
export class MentionPicker implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #input: () => HTMLTextAreaElement | undefined
  /** Members to offer, addresses. */
  candidates: readonly string[] = []
  #query: { at: number; text: string } | undefined
  #active = 0
  /** Escape closed the picker for the `@` at this offset: it stays closed until another `@` is typed. */
  #dismissedAt: number | undefined

  constructor(host: ReactiveControllerHost, input: () => HTMLTextAreaElement | undefined) {
    this.#host = host
    this.#input = input
    host.addController(this)
  }

  hostConnected(): void {}

  /** The members offered now; none while closed. */
  get options(): string[] {
    const query = this.#query
    if (query === undefined) return []
    const wanted = query.text.toLowerCase().replace(/^0x/, '')
    return this.candidates.filter((a) => a.toLowerCase().slice(2).startsWith(wanted)).slice(0, MAX_OPTIONS)
  }

  get open(): boolean {
    return this.options.length > 0
  }

  /** The text or the cursor moved: open, narrow or close. */
  sync(): void {
    const input = this.#input()
    const before = input === undefined ? '' : input.value.slice(0, input.selectionStart ?? input.value.length)
    const match = TYPING_MENTION.exec(before)
    const at = match === null ? undefined : before.length - match[1]!.length - 1
    const next = at === undefined || at === this.#dismissedAt ? undefined : { at, text: match![1]! }
    if (at !== this.#dismissedAt) this.#dismissedAt = undefined
    if (next?.at !== this.#query?.at || next?.text !== this.#query?.text) this.#active = 0
    this.#query = next
    this.#host.requestUpdate()
  }

  /** The text lost the focus: nothing is offered until it is typed in again. */
  close(): void {
    if (this.#query === undefined) return
    this.#query = undefined
    this.#host.requestUpdate()
  }

  /** Handles the picker's keys while it is open; true when the key was its (the composer does nothing more). */
  onKey(event: KeyboardEvent): boolean {
    const options = this.options
    if (options.length === 0 || event.isComposing) return false
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        const step = event.key === 'ArrowDown' ? 1 : -1
        this.#active = (this.#active + step + options.length) % options.length
        break
      }
      case 'Enter':
      case 'Tab':
        if (event.shiftKey) return false
        this.#insert(options[this.#active]!)
        break
      case 'Escape':
        this.#dismissedAt = this.#query?.at
        this.#query = undefined
        break
      default:
        return false
    }
    event.preventDefault()
    this.#host.requestUpdate()
    return true
  }

  /** What the textarea says of the picker: which list it controls and which option is active. */
  get aria(): { controls: string | undefined; active: string | undefined } {
    return this.open
      ? { controls: 'mention-options', active: `mention-option-${this.#active}` }
      : { controls: undefined, active: undefined }
  }

  render() {
    const options = this.options
    if (options.length === 0) return ''
    return html`<ul id="mention-options" class="mention-options" role="listbox" aria-label="Mention a member">
      ${options.map(
        (address, i) => html`<li
          id="mention-option-${i}"
          role="option"
          aria-selected=${i === this.#active ? 'true' : 'false'}
          title=${address}
          @mousedown=${(event: MouseEvent) => {
            // The focus stays in the textarea: the click inserts, as Enter does.
            event.preventDefault()
            this.#insert(address)
          }}
        >
          @${shortAddress(address)}
        </li>`,
      )}
    </ul>`
  }

  #insert(address: string): void {
    const input = this.#input()
    const query = this.#query
    if (input === undefined || query === undefined) return
    const end = query.at + 1 + query.text.length
    const mention = `@${address} `
    input.setRangeText(mention, query.at, end, 'end')
    this.#query = undefined
    // As typing would: the composer measures it, and the picker closes.
    input.dispatchEvent(new Event('input', { bubbles: true }))
    input.focus()
  }
}

export const mentionPickerStyles = css`
  .mention-options {
    grid-column: 1 / -1;
    list-style: none;
    margin: 0;
    padding: 0.25rem;
    border: 1px solid var(--sc-border);
    border-radius: 6px;
    background: var(--sc-bg);
    max-height: 12rem;
    overflow-y: auto;
  }
  .mention-options [role='option'] {
    padding: 0.25rem 0.5rem;
    border-radius: 4px;
    cursor: pointer;
    font-family: ui-monospace, monospace;
  }
  .mention-options [role='option'][aria-selected='true'] {
    background: var(--sc-accent);
    color: var(--sc-accent-fg);
  }
`
