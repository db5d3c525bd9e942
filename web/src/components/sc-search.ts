import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import { ChangeController, conversationsContext, sessionContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { describeError } from '../state/errors.ts'
import { type FoundMessage, findMessages, foundEntry, searchIndexStats } from '../state/search.ts'
import type { Session } from '../state/session.ts'
import { dateTime } from './format-time.ts'
import { snippetParts } from './search-snippet.ts'
import { baseStyles, shortAddress } from './styles.ts'

/**
 * Search in this device's history, rooms and DMs together: a button in the header (and Ctrl+K or `/` anywhere
 * outside a text field) opens a dialog; each result names its conversation, time and sender over a snippet with
 * the matched words marked. Choosing one (click, or Enter; ↑ and ↓ move between them) closes the dialog and
 * dispatches `message-jump` (as the Mentions view does): the app opens the conversation at that message.
 */
@customElement('sc-search')
export class ScSearch extends LitElement {
  static override styles = [
    baseStyles,
    css`
      dialog {
        width: min(40rem, calc(100vw - 2rem));
        max-height: calc(100dvh - 4rem);
        padding: 1rem;
        border: 1px solid var(--sc-border);
        border-radius: 12px;
        box-sizing: border-box;
      }
      dialog::backdrop {
        background: rgb(0 0 0 / 0.3);
      }
      form {
        display: flex;
        gap: 0.5rem;
        align-items: end;
      }
      form label {
        flex: 1;
      }
      .meta {
        font-size: 0.875rem;
        color: var(--sc-muted);
      }
      ol {
        list-style: none;
        margin: 0.5rem 0 0;
        padding: 0;
        display: grid;
        gap: 0.25rem;
      }
      ol button {
        display: grid;
        gap: 0.125rem;
        width: 100%;
        text-align: left;
        padding: 0.5rem 0.75rem;
        background: var(--sc-bg);
        color: var(--sc-fg);
        border: 1px solid var(--sc-border);
      }
      ol button:hover,
      ol button:focus-visible {
        background: var(--sc-panel);
      }
      .where {
        font-size: 0.875rem;
        color: var(--sc-muted);
      }
      mark {
        background: #fde68a;
        color: inherit;
        border-radius: 2px;
      }
      /* A phone: the dialog takes the screen's width, the results what is left of its height. */
      @media (max-width: 700px) {
        dialog {
          width: calc(100vw - 1rem);
          max-height: calc(100dvh - 1rem);
          margin: 0.5rem auto;
          padding: 0.5rem;
        }
        .open {
          padding: 0 0.75rem;
        }
      }
    `,
  ]

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  @state() private query = ''
  /** Undefined: nothing asked yet (or no term). */
  @state() private found: FoundMessage[] | undefined
  @state() private problem: string | undefined
  @query('dialog') private dialog!: HTMLDialogElement | null
  @query('input') private input!: HTMLInputElement | null

  /** Each search's number: an answer that comes after a later search started is dropped. */
  #asked = 0
  /** The index opens with the client: the panel's figures follow the session. */
  readonly #sessionChanges = new ChangeController<Session>(this, 'session:changed')
  readonly #indexChanges = new ChangeController<EventTarget>(this, 'index:saved')
  readonly #indexOpened = new ChangeController<EventTarget>(this, 'index:opened')

  override willUpdate(): void {
    this.#sessionChanges.target = this.session
    this.#indexChanges.target = this.session?.client?.search
    this.#indexOpened.target = this.session?.client?.search
  }

  override connectedCallback(): void {
    super.connectedCallback()
    addEventListener('keydown', this.#onShortcut)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    removeEventListener('keydown', this.#onShortcut)
  }

  /** Opens the dialog with the focus in its search field. */
  async show(): Promise<void> {
    await this.updateComplete
    if (this.dialog?.open !== true) this.dialog?.showModal()
    this.input?.select()
    // The index's figures may have changed since it was last open.
    this.requestUpdate()
  }

  override render() {
    const stats = this.session === undefined ? undefined : searchIndexStats(this.session)
    return html`
      <button type="button" class="secondary open" aria-keyshortcuts="Control+K /" title="Search messages (Ctrl+K or /)" @click=${() => this.show()}>Search</button>
      <dialog aria-label="Search messages" @keydown=${this.#onDialogKey}>
        <form role="search" @submit=${(event: Event) => event.preventDefault()}>
          <label>Search messages
            <input type="search" autocomplete="off" spellcheck="false" .value=${this.query} @input=${this.#onInput} @keydown=${this.#onInputKey} />
          </label>
          <button type="button" class="secondary" @click=${() => this.dialog?.close()}>Close</button>
        </form>
        <p class="meta" role="status" data-testid="search-status"
          data-rebuilds=${stats?.rebuilds ?? ''} data-loaded=${stats?.loaded ?? ''} data-updates=${stats?.updates ?? ''} data-saving=${stats?.saving ?? ''}>
          ${this.#status(stats?.size)}
        </p>
        ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
        ${
          this.found === undefined || this.found.length === 0
            ? ''
            : html`<ol aria-label="Results">
              ${repeat(
                this.found,
                (found) => `${found.conversation} ${found.result.id}`,
                (found) => this.#result(found),
              )}
            </ol>`
        }
      </dialog>
    `
  }

  #status(size: number | undefined) {
    if (size === undefined) return 'Search works once connected and the index is open: it opens with the chat network.'
    if (this.found === undefined) {
      return `${size.toLocaleString('en')} messages searchable on this device; the index stays encrypted here.`
    }
    const n = this.found.length
    return n === 0 ? 'No message found.' : `${n} message${n === 1 ? '' : 's'} found.`
  }

  #result(found: FoundMessage) {
    const { result } = found
    const where = found.kind === 'room' ? `# ${found.name}` : `DM with ${found.name}`
    const mine = result.sender.toLowerCase() === this.session?.address?.toLowerCase()
    return html`<li>
      <button type="button" data-testid="search-result" data-message-id=${result.id} @click=${() => this.#choose(found)}>
        <span class="where">${where} · ${dateTime(result.sentAtMs)} · ${mine ? 'you' : shortAddress(result.sender)}${result.edited ? ' · edited' : ''}</span>
        <span class="snippet" dir="auto">${snippetParts(result.snippet, this.query).map((part) =>
          part.hit ? html`<mark>${part.text}</mark>` : part.text,
        )}</span>
      </button>
    </li>`
  }

  async #onInput(event: Event): Promise<void> {
    this.query = (event.target as HTMLInputElement).value
    const asked = ++this.#asked
    const { session, conversations } = this
    if (session === undefined || conversations === undefined || this.query.trim() === '') {
      this.found = undefined
      return
    }
    try {
      const found = await findMessages(session, conversations, this.query)
      if (asked !== this.#asked) return
      this.found = found
      this.problem = undefined
    } catch (err) {
      if (asked === this.#asked) this.problem = describeError(err)
    }
  }

  /** Enter in the field opens the first result; ↓ goes to the results. */
  #onInputKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.isComposing) {
      event.preventDefault()
      const first = this.found?.[0]
      if (first !== undefined) this.#choose(first)
    } else if (event.key === 'ArrowDown') {
      event.preventDefault()
      this.#results()[0]?.focus()
    }
  }

  /** ↑ and ↓ move between the results (↑ from the first goes back to the field); Escape closes, from the field too. */
  #onDialogKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      // A search field with text would only clear it.
      event.preventDefault()
      this.dialog?.close()
      return
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
    const results = this.#results()
    const at = results.indexOf(this.shadowRoot?.activeElement as HTMLButtonElement)
    if (at === -1) return
    event.preventDefault()
    const next = at + (event.key === 'ArrowDown' ? 1 : -1)
    if (next < 0) this.input?.focus()
    else results[Math.min(next, results.length - 1)]?.focus()
  }

  #results(): HTMLButtonElement[] {
    return [...this.renderRoot.querySelectorAll<HTMLButtonElement>('[data-testid="search-result"]')]
  }

  #choose(found: FoundMessage): void {
    // A message older than what the conversation's history holds is shown where it belongs.
    this.conversations?.showFound(found.conversation, foundEntry(found, this.session?.address))
    this.dialog?.close()
    const detail = { conversation: found.conversation, message: found.result.id }
    this.dispatchEvent(new CustomEvent('message-jump', { detail, bubbles: true, composed: true }))
  }

  /** Ctrl+K (⌘K) anywhere, or `/` outside a text field, opens the search. */
  readonly #onShortcut = (event: KeyboardEvent): void => {
    if (event.defaultPrevented || event.isComposing) return
    const chord = (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'k'
    const slash = event.key === '/' && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event)
    if (!chord && !slash) return
    event.preventDefault()
    void this.show()
  }
}

/** Whether the key went to a field that takes text (through shadow roots). */
function typing(event: KeyboardEvent): boolean {
  const target = event.composedPath()[0]
  if (!(target instanceof HTMLElement)) return false
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-search': ScSearch
  }
}
