import { css, html, LitElement } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import type { VerifiedAnchor } from '../state/history-store.ts'
import { dateTime, isoDateTime } from './format-time.ts'
import { baseStyles } from './styles.ts'

/**
 * The "Anchored in block N" mark of a message whose anchor this browser verified (`state/anchors.ts`), and a
 * dialog with the anchor's details and what was checked to show it.
 */
@customElement('sc-anchor-mark')
export class ScAnchorMark extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: inline-block;
      }
      /* Quiet: a small mark among the message's details; what it vouches for is a click away. */
      button.mark {
        min-height: 24px;
        padding: 0 0.25rem;
        font-size: 0.75rem;
        background: none;
        border: none;
        color: var(--sc-ok);
        text-decoration: underline dotted;
      }
      dialog {
        max-width: min(40rem, 92vw);
        border: 1px solid var(--sc-border);
        border-radius: 8px;
        color: var(--sc-fg);
      }
      dl {
        display: grid;
        grid-template-columns: max-content 1fr;
        gap: 0.25rem 0.75rem;
      }
      dt {
        font-weight: 600;
      }
      dd {
        margin: 0;
        font-family: ui-monospace, monospace;
        font-size: 0.875rem;
        overflow-wrap: anywhere;
      }
      h3 {
        margin-top: 0;
      }
      h4 {
        margin-bottom: 0.25rem;
      }
      ul {
        margin-top: 0;
        padding-left: 1.25rem;
      }
    `,
  ]

  /** The verified anchor; nothing renders without one. */
  @property({ attribute: false }) anchor: VerifiedAnchor | undefined
  /** The message the anchor is of (64 hex digits). */
  @property() messageId = ''

  @query('dialog') private dialog!: HTMLDialogElement | null

  override render() {
    const anchor = this.anchor
    if (anchor === undefined) return ''
    const time = dateTime(anchor.timestamp * 1000)
    return html`
      <button class="mark" aria-haspopup="dialog" aria-label="Anchored in block ${anchor.blockNumber}"
        title="Anchored in block ${anchor.blockNumber}" @click=${this.#open}>
        <span aria-hidden="true">⚓</span> anchored
      </button>
      <dialog aria-labelledby="anchor-title">
        <h3 id="anchor-title">Anchored in block ${anchor.blockNumber}</h3>
        <p>
          This message existed, exactly as received, by ${time}: its fingerprint is in a batch
          whose root is recorded on chain. The chain learns nothing of what it says.
        </p>
        <dl>
          <dt>Block</dt>
          <dd data-testid="anchor-block">${anchor.blockNumber}</dd>
          <dt>Time</dt>
          <dd>${isoDateTime(anchor.timestamp * 1000)}</dd>
          <dt>Root</dt>
          <dd data-testid="anchor-root">${anchor.root}</dd>
          <dt>Anchorer</dt>
          <dd>${anchor.anchorer}</dd>
          <dt>Leaf list</dt>
          <dd>${anchor.cid ?? 'not found in the block'}${anchor.count === undefined ? '' : ` (${anchor.count} message${anchor.count === 1 ? '' : 's'})`}</dd>
          <dt>Transaction</dt>
          <dd>${anchor.transactionHash ?? 'not found in the block'}</dd>
          <dt>Audit log</dt>
          <dd>${anchor.auditLog} on chain ${anchor.chainId}</dd>
          <dt>Message</dt>
          <dd>${this.messageId}</dd>
          <dt>Leaf</dt>
          <dd>${anchor.leafHash}</dd>
        </dl>
        <h4>What this browser checked</h4>
        <ul>
          <li>It computed the message's leaf itself, from the message as it arrived: room, message id, sender, send time and a hash of the ciphertext.</li>
          <li>${
            anchor.proofSource === 'self'
              ? 'You anchored this batch from this browser: the Merkle proof it built then leads from that leaf to the root above.'
              : "The relay's Merkle proof leads from that leaf to the root above."
          }</li>
          <li>The audit log contract, read over the chain's RPC and not through the relay, says the root was first anchored in block ${anchor.blockNumber} by ${anchor.anchorer}; the leaf list and transaction come from that block's Anchored event.</li>
        </ul>
        <p class="muted">Checked ${dateTime(anchor.verifiedAtMs)}.</p>
        <button class="secondary" @click=${this.#close}>Close</button>
      </dialog>
    `
  }

  #open(): void {
    this.dialog?.showModal()
  }

  #close(): void {
    this.dialog?.close()
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-anchor-mark': ScAnchorMark
  }
}
