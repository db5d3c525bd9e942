import { consume } from '@lit/context'
import { describeRole, type MemberListEntry, memberList, type Room } from '@securechat/sdk/rooms'
import { css, html, LitElement, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { Anchoring } from '../state/anchoring.ts'
import { anchoringContext, ChangeController, sessionContext } from '../state/context.ts'
import type { Session } from '../state/session.ts'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'
import './sc-anchor-action.ts'
import { baseStyles, shortAddress } from './styles.ts'

/**
 * A room's details, a dialog its header's "Members" button opens: who is in the room — here now or away, their roles
 * and when each was last seen (`memberList` in the sdk), kept current while open as members come and go — and,
 * for a wallet that can anchor, "Anchor recent messages": an action that costs a transaction, kept here rather than
 * beside "Leave room".
 */
@customElement('sc-room-details')
export class ScRoomDetails extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: contents;
      }
      dialog {
        width: min(30rem, 92vw);
        max-height: 85vh;
        border: 1px solid var(--sc-border);
        border-radius: 8px;
        color: var(--sc-fg);
        padding: 1rem;
      }
      h3 {
        margin: 0 0 0.5rem;
        overflow-wrap: anywhere;
      }
      h4 {
        margin: 1rem 0 0.25rem;
      }
      ul {
        list-style: none;
        margin: 0;
        padding: 0;
        display: grid;
        gap: 0.5rem;
      }
      li {
        display: grid;
        grid-template-columns: 1fr auto;
        gap: 0 0.5rem;
        padding: 0.5rem;
        border-radius: 8px;
        background: var(--sc-panel);
      }
      .who {
        font-weight: 600;
        overflow-wrap: anywhere;
      }
      .status {
        font-size: 0.875rem;
        justify-self: end;
      }
      .status.here {
        color: var(--sc-ok);
      }
      .status.here::before {
        content: '● ';
      }
      .status.away {
        color: var(--sc-muted);
      }
      .status.away::before {
        content: '○ ';
      }
      .roles,
      .seen {
        font-size: 0.875rem;
        color: var(--sc-muted);
      }
      .seen {
        justify-self: end;
      }
      .audit p {
        margin: 0 0 0.5rem;
        font-size: 0.875rem;
      }
      .close {
        margin-top: 1rem;
      }
      /* A phone: the whole screen, the list scrolling under its title; the header's button compact. */
      @media (max-width: 700px) {
        button.open {
          min-height: 36px;
          padding: 0 0.5rem;
          font-size: 0.875rem;
        }
        dialog {
          width: 100vw;
          max-width: 100vw;
          height: 100dvh;
          max-height: 100dvh;
          margin: 0;
          border: none;
          border-radius: 0;
          box-sizing: border-box;
        }
      }
    `,
  ]

  @consume({ context: sessionContext, subscribe: true })
  @property({ attribute: false })
  session: Session | undefined

  @consume({ context: anchoringContext, subscribe: true })
  @property({ attribute: false })
  anchoring: Anchoring | undefined

  /** The room's id. */
  @property() room = ''
  /** The room's name, for the dialog's title. */
  @property() name = ''
  /** Whether this device is in the room now (anchoring needs it). */
  @property({ type: Boolean }) joined = false

  @state() private entries: MemberListEntry[] = []
  @query('dialog') private dialog: HTMLDialogElement | undefined

  readonly #anchoringChanges = new ChangeController<Anchoring>(this, 'anchoring:changed')
  /** The room whose member events this panel follows while open. */
  #watched: Room | undefined
  readonly #refresh = (): void => void this.#load()

  override willUpdate(changed: PropertyValues<this>): void {
    this.#anchoringChanges.target = this.anchoring
    if (changed.has('room') && this.dialog?.open === true) this.#watch()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.#unwatch()
  }

  override render() {
    const self = this.session?.address?.toLowerCase()
    const canAnchor = this.joined && this.anchoring?.canAnchor === true
    return html`
      <button class="secondary open" aria-haspopup="dialog" @click=${this.#open}>Members</button>
      <dialog aria-labelledby="details-title" @close=${this.#unwatch}>
        <h3 id="details-title"># ${this.name}</h3>
        <section aria-labelledby="members-title">
          <h4 id="members-title">Members</h4>
          <ul data-testid="member-list">
            ${this.entries.map((entry) => this.#member(entry, entry.address.toLowerCase() === self))}
          </ul>
        </section>
        ${
          canAnchor
            ? html`<section class="audit" aria-labelledby="audit-title">
                <h4 id="audit-title">Audit</h4>
                <p class="muted">
                  Records the fingerprints of this room's recent messages on chain, from your wallet: a transaction
                  you pay for. The chain learns nothing of what they say.
                </p>
                <sc-anchor-action .room=${this.room}></sc-anchor-action>
              </section>`
            : ''
        }
        <button class="secondary close" @click=${this.#close}>Close</button>
      </dialog>
    `
  }

  #member(entry: MemberListEntry, you: boolean) {
    const roles = entry.roles.map(describeRole).join(' · ')
    return html`<li data-testid="member" data-address=${entry.address}>
      <span class="who" title=${entry.address}>${shortAddress(entry.address)}${you ? ' (you)' : ''}</span>
      <span class="status ${entry.status}" data-testid="member-status">${entry.status === 'here' ? 'here' : 'away'}</span>
      <span class="roles" data-testid="member-roles">${roles === '' ? 'member' : roles}</span>
      <span class="seen" data-testid="last-seen">${
        entry.status === 'here'
          ? 'here now'
          : html`last seen <time datetime=${isoDateTime(entry.lastSeenMs)} title=${dateTime(entry.lastSeenMs)}>${shortTime(entry.lastSeenMs)}</time>`
      }</span>
    </li>`
  }

  async #open(): Promise<void> {
    this.#watch()
    await this.#load()
    this.dialog?.showModal()
  }

  #close(): void {
    this.dialog?.close()
  }

  /** Follows the room's comings and goings while the dialog is open. */
  #watch(): void {
    this.#unwatch()
    const room = this.#roomNow()
    if (room === undefined) return
    this.#watched = room
    room.addEventListener('member:joined', this.#refresh)
    room.addEventListener('member:left', this.#refresh)
  }

  readonly #unwatch = (): void => {
    this.#watched?.removeEventListener('member:joined', this.#refresh)
    this.#watched?.removeEventListener('member:left', this.#refresh)
    this.#watched = undefined
  }

  #roomNow(): Room | undefined {
    return this.session?.client?.rooms.find((room) => room.id === this.room)
  }

  async #load(): Promise<void> {
    const room = this.#roomNow()
    if (room === undefined) {
      this.entries = []
      return
    }
    this.entries = await memberList(room, { gates: this.session?.client?.gates })
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-room-details': ScRoomDetails
  }
}
