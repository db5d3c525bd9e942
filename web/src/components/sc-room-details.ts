import { consume } from '@lit/context'
import { describeRole, type MemberListEntry, memberList, type Room } from '@securechat/sdk/rooms'
import { css, html, LitElement, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { Anchoring } from '../state/anchoring.ts'
import { anchoringContext, ChangeController, sessionContext } from '../state/context.ts'
import {
  ACTION_LABELS,
  actionOn,
  actionsOn,
  consequence,
  DESTRUCTIVE_ACTIONS,
  type LogLine,
  lockRoom,
  logLines,
  MUTE_CHOICES,
  moderate,
  moderationFailure,
  type WalletAction,
} from '../state/moderation.ts'
import type { Session } from '../state/session.ts'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'
import { moderationLogList, moderationLogStyles } from './moderation-log-list.ts'
import './sc-anchor-action.ts'
import type { ScConfirmDialog } from './sc-confirm-dialog.ts'
import './sc-confirm-dialog.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** What a confirmation asks before each destructive action. */
const QUESTIONS: Partial<Record<WalletAction, (who: string, room: string) => string>> = {
  kick: (who, room) => `Remove ${who} from # ${room}?`,
  ban: (who, room) => `Ban ${who} from # ${room}?`,
  'owner-transfer': (who, room) => `Make ${who} the owner of # ${room}?`,
  mute: (who, room) => `Mute ${who} in # ${room}?`,
}

/** The wallet signs each action, and every member sees it: said in every confirmation. */
const SIGNED = "Your wallet signs this, and the room's moderation log keeps it for every member to see."

/**
 * A room's details, a dialog its header's "Members" button opens: who is in the room — here now or away, their roles
 * and when each was last seen (`memberList` in the sdk), kept current while open as members come and go — with the
 * moderation actions the reader's role allows on each (destructive ones asked first; the wallet signs each), the
 * banned wallets, the room's moderation log newest first, and, for a wallet that can anchor, "Anchor recent messages": an action that costs a transaction, kept here rather than
 * beside "Leave room".
 */
@customElement('sc-room-details')
export class ScRoomDetails extends LitElement {
  static override styles = [
    baseStyles,
    moderationLogStyles,
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
      .mod-actions {
        grid-column: 1 / -1;
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        margin-top: 0.5rem;
      }
      .mod-actions button {
        min-height: 36px;
        padding: 0 0.75rem;
        font-size: 0.875rem;
      }
      .lock-state {
        margin: 0 0 0.5rem;
        font-size: 0.875rem;
      }
      .outcome {
        margin: 0.5rem 0 0;
        font-size: 0.875rem;
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
  /** The moderation log, newest first; the banned wallets; the actions the reader may take on each member. */
  @state() private log: LogLine[] = []
  @state() private banned: string[] = []
  @state() private actions = new Map<string, WalletAction[]>()
  /** The reader owns or moderates the room and its log holds events: it may anchor the log. */
  @state() private logToAnchor = false
  /** Whether the room is locked (and read-only), and whether the reader may change it. */
  @state() private lock: { locked: boolean; readOnly: boolean; canChange: boolean } | undefined
  /** An action waiting for the wallet: the buttons wait too. */
  @state() private busy = false
  /** What the last action did, or why it did not. */
  @state() private outcome: { text: string; error: boolean } | undefined
  @query('dialog') private dialog!: HTMLDialogElement | null
  @query('sc-confirm-dialog') private confirmation!: ScConfirmDialog | null

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
          ${this.#outcome()}
        </section>
        ${
          this.banned.length === 0
            ? ''
            : html`<section aria-labelledby="banned-title">
                <h4 id="banned-title">Banned</h4>
                <ul data-testid="banned-list">
                  ${this.banned.map((address) => this.#bannedWallet(address))}
                </ul>
              </section>`
        }
        ${this.#lockSection()}
        <section aria-labelledby="log-title">
          <h4 id="log-title">Moderation log</h4>
          ${moderationLogList(this.log)}
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
                ${
                  this.logToAnchor
                    ? html`<p class="muted">
                          Records the moderation log on chain, so anyone can check that nothing was removed from it
                          (securechat verify --moderation).
                        </p>
                        <sc-anchor-action kind="moderation" .room=${this.room}></sc-anchor-action>`
                    : ''
                }
              </section>`
            : ''
        }
        <button class="secondary close" @click=${this.#close}>Close</button>
        <sc-confirm-dialog></sc-confirm-dialog>
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
      ${this.#actionButtons(entry.address, this.actions.get(entry.address.toLowerCase()) ?? [])}
    </li>`
  }

  #bannedWallet(address: string) {
    const self = this.session?.address ?? ''
    const room = this.#roomNow()
    const canUnban = room !== undefined && room.moderation.refusal(self, 'unban', address) === undefined
    return html`<li data-testid="banned" data-address=${address}>
      <span class="who" title=${address}>${shortAddress(address)}</span>
      ${this.#actionButtons(address, canUnban ? ['unban'] : [])}
    </li>`
  }

  /** The actions on `address`, each named with it for a screen reader ("Ban 0x12…ab"). */
  #actionButtons(address: string, actions: readonly WalletAction[]) {
    if (actions.length === 0) return ''
    return html`<div class="mod-actions" role="group" aria-label=${`Moderate ${shortAddress(address)}`}>
      ${actions.map(
        (action) =>
          html`<button class="secondary" ?disabled=${this.busy} data-action=${action} @click=${() => this.#moderate(action, address)}>
            ${ACTION_LABELS[action]}<span class="visually-hidden"> ${shortAddress(address)}</span>
          </button>`,
      )}
    </div>`
  }

  #outcome() {
    const outcome = this.outcome
    if (outcome === undefined) return ''
    return outcome.error
      ? html`<p class="outcome error" role="alert" data-testid="moderation-outcome">${outcome.text}</p>`
      : html`<p class="outcome" role="status" data-testid="moderation-outcome">${outcome.text}</p>`
  }

  /** Asks first when the action takes something away, then has the wallet sign it; says what came of it. */
  async #moderate(action: WalletAction, target: string): Promise<void> {
    const room = this.#roomNow()
    const signedIn = this.session?.signedIn
    if (room === undefined || signedIn === undefined || this.busy) return
    const question = QUESTIONS[action]
    let untilMs: number | undefined
    if (DESTRUCTIVE_ACTIONS.has(action) && question !== undefined) {
      const choice = await this.confirmation?.ask({
        title: question(shortAddress(target), this.name),
        body: `${consequence(action, target, this.name)} ${SIGNED}`,
        confirm: ACTION_LABELS[action],
        ...(action === 'mute'
          ? { choice: { label: 'For', options: MUTE_CHOICES.map((c) => ({ label: c.label, value: String(c.ms) })) } }
          : {}),
      })
      if (choice === undefined) return
      if (action === 'mute') untilMs = Date.now() + Number(choice)
    }
    await this.#sign(actionOn(action, target), () =>
      moderate(signedIn, room, action, target, untilMs === undefined ? {} : { untilMs }),
    )
  }

  /** Locks the room (asked first: read-only or not) or unlocks it. */
  async #lock(lock: boolean): Promise<void> {
    const room = this.#roomNow()
    const signedIn = this.session?.signedIn
    if (room === undefined || signedIn === undefined || this.busy) return
    let readOnly = false
    if (lock) {
      const choice = await this.confirmation?.ask({
        title: `Lock # ${this.name}?`,
        body: `No one new may join while it is locked, whatever tokens they hold; the members here now stay. ${SIGNED}`,
        confirm: 'Lock room',
        choice: {
          label: 'Who may write',
          options: [
            { label: 'Every member', value: 'members' },
            { label: 'Only the owner and moderators (read-only)', value: 'read-only' },
          ],
        },
      })
      if (choice === undefined) return
      readOnly = choice === 'read-only'
    }
    await this.#sign(lock ? 'lock the room' : 'unlock the room', () => lockRoom(signedIn, room, lock, readOnly))
  }

  /** Runs an action the wallet signs, the buttons waiting meanwhile; says what came of it. */
  async #sign(what: string, action: () => Promise<string>): Promise<void> {
    this.busy = true
    this.outcome = { text: 'Waiting for your wallet to sign…', error: false }
    try {
      this.outcome = { text: await action(), error: false }
    } catch (err) {
      this.outcome = { text: moderationFailure(err, what), error: true }
    } finally {
      this.busy = false
    }
    await this.#load()
  }

  /** The room's lock, and for the owner and moderators the button that changes it. */
  #lockSection() {
    const lock = this.lock
    if (lock === undefined) return ''
    const state =
      lock.locked === false
        ? 'Open: eligible newcomers may join.'
        : lock.readOnly
          ? 'Locked and read-only: no new members, and only the owner and moderators write.'
          : 'Locked: no new members.'
    return html`<section aria-labelledby="lock-title">
      <h4 id="lock-title">Room</h4>
      <p class="lock-state" data-testid="lock-state">${state}</p>
      ${
        lock.canChange
          ? html`<button class="secondary" ?disabled=${this.busy} @click=${() => this.#lock(!lock.locked)}>
              ${lock.locked ? 'Unlock room' : 'Lock room'}
            </button>`
          : ''
      }
    </section>`
  }

  async #open(): Promise<void> {
    this.outcome = undefined
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
    room.addEventListener('moderation:changed', this.#refresh)
  }

  readonly #unwatch = (): void => {
    this.#watched?.removeEventListener('member:joined', this.#refresh)
    this.#watched?.removeEventListener('member:left', this.#refresh)
    this.#watched?.removeEventListener('moderation:changed', this.#refresh)
    this.#watched = undefined
  }

  #roomNow(): Room | undefined {
    return this.session?.client?.rooms.find((room) => room.id === this.room)
  }

  async #load(): Promise<void> {
    const room = this.#roomNow()
    if (room === undefined) {
      this.entries = []
      this.log = []
      this.banned = []
      this.lock = undefined
      return
    }
    const entries = await memberList(room, { gates: this.session?.client?.gates })
    const self = this.session?.address ?? ''
    const log = room.moderation
    this.entries = entries
    this.actions = new Map(entries.map((entry) => [entry.address.toLowerCase(), actionsOn(log, self, entry.address)]))
    this.banned = [...log.state.banned]
    const locked = log.state.lock
    this.lock = {
      locked: locked !== undefined,
      readOnly: locked?.readOnly === true,
      canChange: log.refusal(self, locked === undefined ? 'lock' : 'unlock', self) === undefined,
    }
    this.log = logLines(log.entries())
    this.logToAnchor = self !== '' && log.entries().length > 0 && log.roleOf(self) !== 'member'
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-room-details': ScRoomDetails
  }
}
