import { consume } from '@lit/context'
import type { GateRule } from '@securechat/sdk/gates'
import { css, html, LitElement } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { conversationsContext, sessionContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { describeError } from '../state/errors.ts'
import type { Session } from '../state/session.ts'
import { baseStyles, formStyles } from './styles.ts'

type GateKind = 'none' | 'erc721' | 'erc1155' | 'erc20'

/**
 * Creates a room (one wallet signature): public, or gated on a token with the gate picker
 * (standard, contract, token id, minimum balance). Dispatches `conversation-selected`.
 */
@customElement('sc-create-room')
export class ScCreateRoom extends LitElement {
  static override styles = [
    baseStyles,
    formStyles,
    css`
      fieldset {
        display: grid;
        gap: 0.75rem;
        border: 1px solid var(--sc-border);
        border-radius: 8px;
      }
    `,
  ]

  @consume({ context: conversationsContext, subscribe: true })
  @property({ attribute: false })
  conversations: Conversations | undefined

  /** For the app's chain. */
  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @state() private gate: GateKind = 'none'
  @state() private busy = false
  @state() private problem: string | undefined

  override render() {
    const needsTokenId = this.gate === 'erc1155'
    const mayTokenId = this.gate === 'erc721' || needsTokenId
    return html`
      <form @submit=${this.#submit} aria-labelledby="create-title">
        <h2 id="create-title">New room</h2>
        <label>Name <input name="name" required maxlength="100" autocomplete="off" /></label>
        <fieldset>
          <legend>Who may join</legend>
          <label
            >Access
            <select name="gate" @change=${(e: Event) => (this.gate = (e.target as HTMLSelectElement).value as GateKind)}>
              <option value="none">Anyone with the invite</option>
              <option value="erc721">Holders of an NFT (ERC-721)</option>
              <option value="erc1155">Holders of a multi-token (ERC-1155)</option>
              <option value="erc20">Holders of a token (ERC-20)</option>
            </select>
          </label>
          ${
            this.gate === 'none'
              ? ''
              : html`
                <label>Contract address <input name="contract" required pattern="0x[0-9a-fA-F]{40}" placeholder="0x…" autocomplete="off" /></label>
                ${
                  mayTokenId
                    ? html`<label
                      >Token id${needsTokenId ? '' : ' (optional: one specific token)'}
                      <input name="tokenId" ?required=${needsTokenId} pattern="[0-9]+" inputmode="numeric" autocomplete="off"
                    /></label>`
                    : ''
                }
                <label
                  >Minimum balance${this.gate === 'erc20' ? ' (smallest units)' : ''}
                  <input name="minBalance" required pattern="[1-9][0-9]*" value="1" inputmode="numeric" autocomplete="off"
                /></label>
                <p class="muted">Checked on chain ${this.session?.config.chainId ?? ''} when members join and whenever tokens move.</p>
              `
          }
        </fieldset>
        <button type="submit" ?disabled=${this.busy}>${this.busy ? 'Waiting for your wallet…' : 'Create room'}</button>
        ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
      </form>
    `
  }

  async #submit(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    const session = this.session
    const conversations = this.conversations
    if (session === undefined || conversations === undefined) return
    const data = new FormData(event.target as HTMLFormElement)
    const field = (name: string): string => String(data.get(name) ?? '').trim()
    this.busy = true
    this.problem = undefined
    try {
      const id = await conversations.createRoom({
        name: field('name'),
        gate: this.#rule(field, session.config.chainId),
      })
      this.dispatchEvent(new CustomEvent('conversation-selected', { detail: id, bubbles: true, composed: true }))
    } catch (err) {
      this.problem = describeError(err)
    } finally {
      this.busy = false
    }
  }

  #rule(field: (name: string) => string, chainId: number): GateRule | undefined {
    const contract = field('contract')
    const minBalance = field('minBalance') || '1'
    const tokenId = field('tokenId')
    switch (this.gate) {
      case 'none':
        return undefined
      case 'erc20':
        return { type: 'erc20', chainId, contract, minBalance }
      case 'erc721':
        return tokenId === ''
          ? { type: 'erc721', chainId, contract, minBalance }
          : { type: 'erc721', chainId, contract, tokenId, minBalance: '1' }
      case 'erc1155':
        return { type: 'erc1155', chainId, contract, tokenId, minBalance }
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-create-room': ScCreateRoom
  }
}
