import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { Anchoring, MemberAnchorProgress } from '../state/anchoring.ts'
import { anchoringContext } from '../state/context.ts'
import { describeError } from '../state/errors.ts'
import { baseStyles } from './styles.ts'

type Status =
  | { kind: 'idle' }
  | { kind: 'working'; text: string }
  | { kind: 'done'; text: string }
  /** Anchored, but the relay did not keep the leaf list: `bytes` can be handed in again. */
  | { kind: 'unpublished'; text: string; bytes: Uint8Array }
  | { kind: 'failed'; text: string }

/**
 * "Anchor recent messages": a member anchors the room's unmarked messages with a transaction from the wallet
 * (`state/anchoring.ts`), and sees each step — the wallet prompt, the transaction, its block — and any
 * failure in words. With `kind="moderation"`, "Anchor the moderation log": an owner or moderator anchors the
 * room's moderation log the same way.
 */
@customElement('sc-anchor-action')
export class ScAnchorAction extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: grid;
        gap: 0.25rem;
        justify-items: end;
      }
      p {
        margin: 0;
        font-size: 0.875rem;
        max-width: 28rem;
        text-align: end;
      }
      .ok {
        color: var(--sc-ok);
      }
    `,
  ]

  @consume({ context: anchoringContext, subscribe: true })
  @property({ attribute: false })
  anchoring: Anchoring | undefined

  /** The room whose messages are anchored. */
  @property() room = ''
  /** What is anchored: the room's recent messages, or its moderation log. */
  @property() kind: 'messages' | 'moderation' = 'messages'

  @state() private status: Status = { kind: 'idle' }

  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('room') && this.status.kind !== 'working') this.status = { kind: 'idle' }
  }

  override render() {
    const status = this.status
    const working = status.kind === 'working'
    const moderation = this.kind === 'moderation'
    return html`
      <button class="secondary" ?disabled=${working} aria-describedby="anchor-status"
        @click=${moderation ? this.#anchorModeration : this.#anchor}>
        ${moderation ? 'Anchor the moderation log' : 'Anchor recent messages'}
      </button>
      ${
        status.kind === 'unpublished'
          ? html`<button class="secondary" @click=${() => this.#republish(status.bytes)}>Hand the leaf list to the relay again</button>`
          : ''
      }
      <p id="anchor-status" role=${status.kind === 'failed' ? 'alert' : 'status'}
        data-testid=${moderation ? 'moderation-anchor-status' : 'anchor-status'}
        class=${status.kind === 'failed' || status.kind === 'unpublished' ? 'error' : status.kind === 'done' ? 'ok' : 'muted'}>
        ${status.kind === 'idle' ? '' : status.text}
      </p>
    `
  }

  async #anchor(): Promise<void> {
    const anchoring = this.anchoring
    if (anchoring === undefined || this.status.kind === 'working') return
    this.status = { kind: 'working', text: 'Preparing the batch…' }
    try {
      const result = await anchoring.anchorRecent(this.room, (progress) => {
        this.status = { kind: 'working', text: describeProgress(progress) }
      })
      if (result.status === 'nothing-to-anchor') {
        this.status = { kind: 'done', text: 'Nothing to anchor: every message here is marked as anchored.' }
        return
      }
      const messages = `${result.batch.count} message${result.batch.count === 1 ? '' : 's'}`
      const anchored =
        result.status === 'anchored'
          ? `Anchored ${messages} in block ${result.blockNumber}.`
          : `These ${messages} were already anchored in block ${result.blockNumber}.`
      this.status = result.publication.ok
        ? { kind: 'done', text: anchored }
        : {
            kind: 'unpublished',
            text: `${anchored} But the relay did not keep the leaf list (${result.publication.reason}), so securechat verify cannot find the batch yet. ${result.publication.final ? 'The relay refused it for good.' : 'This device keeps it and hands it over when it next connects.'}`,
            bytes: result.bytes,
          }
    } catch (err) {
      this.status = { kind: 'failed', text: describeFailure(err) }
    }
  }

  readonly #anchorModeration = async (): Promise<void> => {
    const anchoring = this.anchoring
    if (anchoring === undefined || this.status.kind === 'working') return
    this.status = { kind: 'working', text: 'Preparing the batch…' }
    try {
      const result = await anchoring.anchorModeration(this.room, (progress) => {
        this.status = {
          kind: 'working',
          text:
            progress.step === 'waiting-for-wallet'
              ? `Waiting for your wallet to approve anchoring the moderation log (${progress.count} event${progress.count === 1 ? '' : 's'})…`
              : describeProgress(progress),
        }
      })
      const events = `${result.events} event${result.events === 1 ? '' : 's'}`
      const anchored =
        result.status === 'anchored'
          ? `Anchored the moderation log (${events}) in block ${result.blockNumber}.`
          : `The moderation log (${events}) was already anchored in block ${result.blockNumber}.`
      this.status = result.publication.ok
        ? { kind: 'done', text: anchored }
        : {
            kind: 'unpublished',
            text: `${anchored} But the relay did not keep the leaf list (${result.publication.reason}), so securechat verify --moderation cannot find it yet. ${result.publication.final ? 'The relay refused it for good.' : 'This device keeps it and hands it over when it next connects.'}`,
            bytes: result.bytes,
          }
    } catch (err) {
      this.status = { kind: 'failed', text: describeFailure(err) }
    }
  }

  async #republish(bytes: Uint8Array): Promise<void> {
    const anchoring = this.anchoring
    if (anchoring === undefined) return
    this.status = { kind: 'working', text: 'Handing the leaf list to the relay…' }
    const publication = await anchoring.republishLeafList(bytes)
    this.status = publication.ok
      ? { kind: 'done', text: 'The relay keeps the leaf list now.' }
      : { kind: 'unpublished', text: `The relay did not keep the leaf list: ${publication.reason}.`, bytes }
  }
}

function describeProgress(progress: MemberAnchorProgress): string {
  switch (progress.step) {
    case 'waiting-for-wallet':
      return `Waiting for your wallet to approve anchoring ${progress.count} message${progress.count === 1 ? '' : 's'}…`
    case 'sent':
      return `Sent transaction ${progress.transactionHash.slice(0, 10)}…; waiting for it to be mined…`
    case 'publishing':
      return `In block ${progress.blockNumber}; handing the leaf list to the relay…`
  }
}

function describeFailure(err: unknown): string {
  // The sdk's anchorRoot: the wallet's user said no.
  if (err instanceof Error && err.name === 'WalletRejectedError') {
    return 'You rejected the transaction in your wallet; nothing was anchored.'
  }
  return `Not anchored: ${describeError(err)}`
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-anchor-action': ScAnchorAction
  }
}
