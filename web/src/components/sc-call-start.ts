import { consume } from '@lit/context'
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { Calls } from '../state/calls.ts'
import { ChangeController, callsContext } from '../state/context.ts'
import { baseStyles, shortAddress } from './styles.ts'

/**
 * A conversation's call buttons (its header): start an audio or a video call — the browser asks for the microphone
 * and camera then — or, in the call, say so. Shown only in a joined conversation.
 */
@customElement('sc-call-start')
export class ScCallStart extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: contents;
      }
      .icon {
        display: none;
      }
      /* A phone: an icon each, as compact as the header's other actions, so that the messages keep the screen. */
      @media (max-width: 700px) {
        .label {
          display: none;
        }
        .icon {
          display: inline;
        }
        button {
          min-height: 36px;
          padding: 0 0.5rem;
          font-size: 0.875rem;
        }
      }
    `,
  ]

  @consume({ context: callsContext, subscribe: true })
  @state()
  calls: Calls | undefined

  @property() conversation = ''
  @property({ type: Boolean }) joined = false

  readonly #changes = new ChangeController<Calls>(this, 'calls:changed')

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('calls')) this.#changes.target = this.calls
  }

  override render() {
    const calls = this.calls
    if (calls === undefined || !this.joined) return nothing
    if (calls.active?.conversation === this.conversation) return nothing
    const busy = calls.starting !== undefined
    const ongoing = calls.ongoingIn(this.conversation)
    if (ongoing !== undefined) return nothing
    return html`
      <button class="secondary" aria-label="Audio call" title="Audio call" ?disabled=${busy} @click=${() => void calls.start(this.conversation, false)}>
        <span class="label">Audio call</span><span class="icon" aria-hidden="true">📞</span>
      </button>
      <button class="secondary" aria-label="Video call" title="Video call" ?disabled=${busy} @click=${() => void calls.start(this.conversation, true)}>
        <span class="label">Video call</span><span class="icon" aria-hidden="true">🎥</span>
      </button>
    `
  }
}

/**
 * The line a conversation shows while a call others are in goes on there: who is in it, and Join buttons. Also where
 * a failed start or join says why (a refused or missing camera or microphone).
 */
@customElement('sc-call-banner')
export class ScCallBanner extends LitElement {
  static override styles = [
    baseStyles,
    css`
      .banner {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        padding: 0.5rem;
        margin: 0.25rem 0;
        border: 1px solid var(--sc-ok);
        border-radius: 8px;
      }
      .banner span {
        margin-right: auto;
      }
    `,
  ]

  @consume({ context: callsContext, subscribe: true })
  @state()
  calls: Calls | undefined

  @property() conversation = ''

  readonly #changes = new ChangeController<Calls>(this, 'calls:changed')

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('calls')) this.#changes.target = this.calls
  }

  override render() {
    const calls = this.calls
    if (calls === undefined) return nothing
    const problem = calls.problem?.conversation === this.conversation ? calls.problem.text : undefined
    const ongoing = calls.ongoingIn(this.conversation)
    const starting = calls.starting === this.conversation
    const who = ongoing === undefined ? [] : [...new Set([...ongoing.devices.values()].map((d) => d.address))]
    return html`
      ${starting ? html`<p role="status" data-testid="call-starting">Starting the call: the browser asks for your microphone (and camera)…</p>` : nothing}
      ${
        ongoing === undefined
          ? nothing
          : html`<div class="banner" role="status" data-testid="call-ongoing">
              <span>${ongoing.video ? 'Video call' : 'Call'} going on with ${who.map((a) => shortAddress(a)).join(', ')}</span>
              <button ?disabled=${calls.starting !== undefined} @click=${() => void calls.join(this.conversation, ongoing.callId, false)}>Join with audio</button>
              <button ?disabled=${calls.starting !== undefined} @click=${() => void calls.join(this.conversation, ongoing.callId, true)}>Join with video</button>
            </div>`
      }
      ${problem === undefined ? nothing : html`<p class="error" role="alert" data-testid="call-problem">${problem}</p>`}
    `
  }
}
