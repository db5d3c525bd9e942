import { consume } from '@lit/context'
import { css, html, LitElement } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ChangeController, signalsContext } from '../state/context.ts'
import type { Signals } from '../state/signals.ts'
import { baseStyles } from './styles.ts'

/**
 * Two switches for this device: read receipts and typing indicators. Off is off both ways — neither told to others
 * nor shown of them, as Signal does — and the choice is kept in the vault.
 */
@customElement('sc-signal-settings')
export class ScSignalSettings extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: inline-block;
        position: relative;
      }
      summary {
        cursor: pointer;
        min-height: 44px;
        display: flex;
        align-items: center;
        padding: 0 0.5rem;
      }
      fieldset {
        position: absolute;
        left: 0;
        z-index: 2;
        min-width: 16rem;
        margin: 0;
        background: var(--sc-bg);
        border: 1px solid var(--sc-border);
        border-radius: 8px;
      }
      label {
        display: flex;
        gap: 0.5rem;
        align-items: center;
        min-height: 44px;
      }
    `,
  ]

  @consume({ context: signalsContext, subscribe: true })
  @property({ attribute: false })
  signals: Signals | undefined

  readonly #changes = new ChangeController<Signals>(this, 'signals:changed')

  override willUpdate(): void {
    this.#changes.target = this.signals
  }

  override render() {
    const settings = this.signals?.settings
    if (settings === undefined) return ''
    return html`<details>
      <summary>Privacy</summary>
      <fieldset>
        <legend>On this device, both ways</legend>
        <label><input type="checkbox" data-testid="receipts-setting" .checked=${settings.receipts}
          @change=${(e: Event) => void this.signals?.setSettings({ receipts: (e.target as HTMLInputElement).checked })} />
          Read receipts</label>
        <label><input type="checkbox" data-testid="typing-setting" .checked=${settings.typing}
          @change=${(e: Event) => void this.signals?.setSettings({ typing: (e.target as HTMLInputElement).checked })} />
          Typing indicators</label>
      </fieldset>
    </details>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-signal-settings': ScSignalSettings
  }
}
