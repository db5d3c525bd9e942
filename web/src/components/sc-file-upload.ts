import { consume } from '@lit/context'
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ChangeController, filesContext } from '../state/context.ts'
import type { Files, Upload } from '../state/files.ts'
import { baseStyles } from './styles.ts'
import { transferProgress } from './transfer-progress.ts'

const STAGES: Record<Upload['stage'], string> = {
  encrypting: 'Encrypting',
  relays: 'Handing it to the relays',
  done: 'Shared',
  failed: 'Not shared',
}

/**
 * The file being shared in a conversation, above its composer: the stage (encrypting here, then the relays fetching
 * it to keep it), bytes, speed and time left, and Cancel; then what went wrong, or a warning that no relay keeps it.
 * Its own element, so progress re-renders it alone.
 */
@customElement('sc-file-upload')
export class ScFileUpload extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: block;
      }
      .upload {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 0.25rem 0.5rem;
        align-items: center;
        padding: 0.5rem 0;
      }
      progress {
        width: 100%;
        grid-column: 1 / -1;
      }
      p {
        margin: 0;
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
    `,
  ]

  @property({ attribute: false }) conversation = ''

  @consume({ context: filesContext, subscribe: true })
  @property({ attribute: false })
  files: Files | undefined

  readonly #changes = new ChangeController<Files>(this, 'files:changed')

  override willUpdate(_changed: PropertyValues<this>): void {
    this.#changes.target = this.files
  }

  override render() {
    const upload = this.files?.upload(this.conversation)
    if (upload === undefined) return nothing
    const running = upload.stage !== 'done' && upload.stage !== 'failed'
    if (!running) {
      const text = upload.problem ?? upload.warning
      return html`<div class="upload">
        <p class=${upload.problem === undefined ? 'warning' : 'error'} role="alert" data-testid="upload-problem">
          ${upload.problem === undefined ? '' : html`<strong>${upload.name} was not shared:</strong> `}${text}
        </p>
        <button type="button" class="secondary" @click=${() => this.files?.dismissUpload(this.conversation)}>Dismiss</button>
      </div>`
    }
    return html`<div class="upload" data-testid="upload">
      <span><strong>${STAGES[upload.stage]}</strong> ${upload.name}</span>
      <button type="button" class="secondary" @click=${() => this.files?.cancelShare(this.conversation)} aria-label=${`Cancel sharing ${upload.name}`}>Cancel</button>
      ${transferProgress(upload.progress, `Sharing ${upload.name}`, 'upload-progress')}
    </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-file-upload': ScFileUpload
  }
}
