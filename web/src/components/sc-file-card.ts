import { consume } from '@lit/context'
import type { FileManifest } from '@securechat/sdk/types'
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ChangeController, filesContext } from '../state/context.ts'
import type { Download, Files, Preview } from '../state/files.ts'
import { humanSize } from './format-size.ts'
import { baseStyles } from './styles.ts'
import { transferProgress } from './transfer-progress.ts'

/**
 * A message's file: its name, size and type, the thumbnail its message carried (at once, nothing fetched), an
 * inline preview for pictures (and a player for audio and video) up to a bound, and a Download button with progress,
 * speed, time left and Cancel; a download a reload interrupted says how far it got, with Resume and Discard. Its own
 * element, listening to `files:changed` itself: a transfer's progress re-renders this card, not the whole
 * conversation.
 */
@customElement('sc-file-card')
export class ScFileCard extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: block;
        margin-top: 0.25rem;
      }
      .card {
        display: grid;
        gap: 0.375rem;
        padding: 0.5rem 0.625rem;
        border: 1px solid var(--sc-border);
        border-radius: 8px;
        background: var(--sc-bg);
        max-width: 24rem;
      }
      .name {
        font-weight: 600;
        overflow-wrap: anywhere;
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
      }
      progress {
        width: 100%;
      }
      img,
      video {
        max-width: 100%;
        height: auto;
        max-height: 20rem;
        border-radius: 6px;
        display: block;
      }
      audio {
        width: 100%;
      }
      p {
        margin: 0;
      }
    `,
  ]

  @property({ attribute: false }) messageId = ''
  @property({ attribute: false }) file: FileManifest | undefined

  @consume({ context: filesContext, subscribe: true })
  @property({ attribute: false })
  files: Files | undefined

  readonly #changes = new ChangeController<Files>(this, 'files:changed')

  override willUpdate(_changed: PropertyValues<this>): void {
    this.#changes.target = this.files
  }

  override render() {
    const file = this.file
    const files = this.files
    if (file === undefined) return nothing
    const download = files?.download(this.messageId)
    const preview = files?.preview(this.messageId, file)
    const running = download?.state === 'running'
    const interrupted = download?.state === 'interrupted'
    return html`<div class="card" role="group" aria-label=${`File ${file.name}`} data-testid="file-card">
      ${preview === undefined ? '' : this.#preview(preview, file)}
      <span class="name" data-testid="file-name" dir="auto">${file.name}</span>
      <span class="meta"><span data-testid="file-size">${humanSize(file.size)}</span> · ${file.type}</span>
      ${running ? transferProgress(download.progress, `Downloading ${file.name}`, 'download-progress') : ''}
      ${
        interrupted
          ? html`<p class="meta" role="status" data-testid="download-interrupted">Download interrupted at ${humanSize(download.progress.bytes)} of ${humanSize(file.size)}. Resume fetches only what this browser does not hold yet.</p>`
          : ''
      }
      <div class="row">${this.#actions(file, download?.state)}
        ${download?.state === 'done' ? html`<span class="meta" role="status" data-testid="download-done">Saved.</span>` : ''}
      </div>
      ${download?.problem === undefined ? '' : html`<p class="error" role="alert" data-testid="file-problem">${download.problem}</p>`}
    </div>`
  }

  /** Cancel while it runs; Resume and Discard once a reload interrupted it; Download otherwise. */
  #actions(file: FileManifest, state: Download['state'] | undefined) {
    const files = this.files
    if (state === 'running') {
      return html`<button type="button" class="secondary" @click=${() => files?.cancelDownload(this.messageId)} aria-label=${`Cancel downloading ${file.name}`}>Cancel</button>`
    }
    if (state === 'interrupted') {
      return html`<button type="button" ?disabled=${files === undefined} @click=${this.#resume} aria-label=${`Resume downloading ${file.name}`}>Resume</button>
        <button type="button" class="secondary" @click=${() => void files?.discardDownload(this.messageId)} aria-label=${`Discard the interrupted download of ${file.name}`}>Discard</button>`
    }
    return html`<button type="button" class="secondary" ?disabled=${files === undefined} @click=${this.#download} aria-label=${`Download ${file.name}`}>Download</button>`
  }

  #preview(preview: Preview, file: FileManifest) {
    // The thumbnail the message carried: at once, until the file itself is shown (or instead, when it is not).
    const thumbnail =
      preview.thumbnail === undefined
        ? ''
        : html`<img src=${preview.thumbnail} alt=${file.name} width=${file.thumbnail?.width ?? nothing} height=${file.thumbnail?.height ?? nothing} data-testid="file-thumbnail" />`
    if (preview.state === 'failed') {
      return html`${thumbnail}<p class="error" role="alert" data-testid="preview-problem">${preview.problem}</p>`
    }
    if (preview.kind === undefined) return thumbnail
    if (preview.state === 'loading' || preview.url === undefined) {
      return preview.thumbnail === undefined
        ? html`<span class="meta" role="status">Loading the preview…</span>`
        : thumbnail
    }
    switch (preview.kind) {
      case 'image':
        return html`<img src=${preview.url} alt=${file.name} data-testid="file-preview" />`
      case 'audio':
        return html`${thumbnail}<audio controls preload="metadata" src=${preview.url} aria-label=${file.name} data-testid="file-preview"></audio>`
      case 'video':
        return html`<video controls preload="metadata" src=${preview.url} poster=${preview.thumbnail ?? nothing} aria-label=${file.name} data-testid="file-preview"></video>`
    }
  }

  /** Straight from the click, no await before it: the save picker needs the click's activation. */
  readonly #download = (): void => {
    if (this.file !== undefined) void this.files?.startDownload(this.messageId, this.file)
  }

  /** Straight from the click too: writing to the same file again may need the browser's permission prompt. */
  readonly #resume = (): void => {
    if (this.file !== undefined) void this.files?.resumeDownload(this.messageId, this.file)
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-file-card': ScFileCard
  }
}
