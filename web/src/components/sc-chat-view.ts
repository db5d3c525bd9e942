import { consume } from '@lit/context'
import type { RoomMember } from '@securechat/sdk/types'
import { css, html, LitElement, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import type { Anchoring } from '../state/anchoring.ts'
import { anchoringContext, ChangeController, conversationsContext, sessionContext } from '../state/context.ts'
import type { Conversations, GapLine } from '../state/conversations.ts'
import { describeError } from '../state/errors.ts'
import type { ChatEntry } from '../state/history-store.ts'
import type { PendingMessage } from '../state/outbox.ts'
import type { Session } from '../state/session.ts'
import './sc-anchor-action.ts'
import './sc-anchor-mark.ts'
import './sc-invite-share.ts'
import { dateTime, dayKey, dayLabel, isoDateTime, shortTime } from './format-time.ts'
import { messageBody } from './message-body.ts'
import './sc-composer.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** How near the bottom (px) still counts as reading the newest messages. */
const FOLLOW_NEWEST_SLACK_PX = 48

/** One conversation (room or DM): its state, members, messages and the composer. */
@customElement('sc-chat-view')
export class ScChatView extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: grid;
        grid-template-rows: auto 1fr auto;
        grid-template-columns: minmax(0, 1fr);
        height: 100%;
        min-height: 0;
        min-width: 0;
      }
      header {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        justify-content: space-between;
        border-bottom: 1px solid var(--sc-border);
        padding-bottom: 0.5rem;
      }
      h2 {
        margin: 0;
      }
      .requirement {
        display: block;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: start;
        justify-content: end;
      }
      /* The messages scroll, not the page: header and composer stay in place. */
      .body {
        display: flex;
        flex-direction: column;
        min-height: 0;
        position: relative;
      }
      .newest {
        position: absolute;
        bottom: 0.5rem;
        left: 50%;
        transform: translateX(-50%);
        box-shadow: 0 2px 6px rgb(0 0 0 / 20%);
      }
      /* The log is the live region; the list in it scrolls (a list, so each message is a list item to readers). */
      .log {
        flex: 1;
        min-height: 0;
        display: flex;
        flex-direction: column;
      }
      ol.messages {
        flex: 1;
        min-height: 0;
        list-style: none;
        margin: 0;
        padding: 0.5rem 0;
        overflow-y: auto;
        display: grid;
        align-content: start;
        gap: 0.5rem;
      }
      .messages > li {
        background: var(--sc-panel);
        border-radius: 8px;
        padding: 0.5rem 0.75rem;
        max-width: 80%;
        overflow-wrap: anywhere;
      }
      .messages > li.mine {
        justify-self: end;
        background: #dbeafe;
      }
      .messages > li.undecryptable {
        border: 1px dashed var(--sc-danger);
      }
      .messages > li.pending {
        opacity: 0.75;
        border: 1px dashed var(--sc-muted);
      }
      /* A gap is a slim line between messages, not a message: it must not take over the conversation. */
      .messages > li.gap {
        justify-self: center;
        background: none;
        border: 1px dashed var(--sc-border);
        padding: 0.125rem 0.75rem;
        font-size: 0.875rem;
        color: var(--sc-muted);
      }
      .messages > li.gap.lost {
        border-color: var(--sc-danger);
        color: var(--sc-danger);
      }
      .catching-up {
        font-size: 0.875rem;
        color: var(--sc-muted);
        padding: 0.25rem 0;
      }
      /* A day's first message follows a centred line naming the day. */
      .messages > li.day {
        justify-self: stretch;
        max-width: none;
        background: none;
        padding: 0.25rem 0;
        display: flex;
        align-items: center;
        gap: 0.75rem;
        font-size: 0.8125rem;
        font-weight: 600;
        color: var(--sc-muted);
      }
      .messages > li.day::before,
      .messages > li.day::after {
        content: '';
        flex: 1;
        border-top: 1px solid var(--sc-border);
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
      /* Markdown a message used (message-body.ts): compact, as a chat shows it. */
      .text > :first-child {
        margin-top: 0;
      }
      .text > :last-child {
        margin-bottom: 0;
      }
      .text p,
      .text ul,
      .text ol,
      .text pre,
      .text blockquote {
        margin: 0.25rem 0;
      }
      .text ul,
      .text ol {
        padding-inline-start: 1.5rem;
      }
      .text blockquote {
        border-inline-start: 3px solid var(--sc-border);
        padding-inline-start: 0.5rem;
        margin-inline: 0;
        color: var(--sc-muted);
      }
      .text code {
        font: 0.875em/1.4 ui-monospace, monospace;
        background: rgb(0 0 0 / 6%);
        border-radius: 4px;
        padding: 0 0.25rem;
      }
      .text pre {
        overflow-x: auto;
        background: rgb(0 0 0 / 6%);
        border-radius: 6px;
        padding: 0.5rem;
        white-space: pre;
      }
      .text pre code {
        background: none;
        padding: 0;
      }
      .text a {
        color: var(--sc-accent);
      }
      .state {
        padding: 1rem;
        border-radius: 8px;
        background: #fef3c7;
      }
      details {
        margin: 0.5rem 0;
      }
      /* A phone: the conversation's name, who is here and its actions on as few lines as they fit (sc-app's Back sits at the start of the first, --sc-header-inset wide). */
      @media (max-width: 700px) {
        header {
          flex-wrap: nowrap;
          align-items: start;
          padding-inline-start: var(--sc-header-inset, 0);
          min-height: 44px;
        }
        header > div:first-child {
          flex: 1;
          min-width: 0;
        }
        h2 {
          font-size: 1.125rem;
          white-space: nowrap;
          overflow: hidden;
          text-overflow: ellipsis;
        }
        [data-testid='members'],
        .requirement {
          display: block;
          white-space: nowrap;
          overflow: hidden;
          text-overflow: ellipsis;
        }
        .actions {
          flex: none;
          max-width: 50%;
        }
        details {
          margin: 0.25rem 0;
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

  @consume({ context: anchoringContext, subscribe: true })
  @property({ attribute: false })
  anchoring: Anchoring | undefined

  @property() conversation = ''
  @state() private problem: string | undefined
  /**
   * The reader scrolled up, away from the newest messages: the list stays where they are and offers
   * "New messages ↓". Only the reader's scrolling sets it; content that grows (a message, an anchor mark
   * rendering later) never does, so the list keeps following whatever renders after it scrolled.
   */
  @state() private reading = false
  @query('ol.messages') private list: HTMLOListElement | undefined

  readonly #sessionChanges = new ChangeController<Session>(this, 'session:changed')
  readonly #conversationChanges = new ChangeController<Conversations>(this, 'conversations:changed')
  readonly #anchoringChanges = new ChangeController<Anchoring>(this, 'anchoring:changed')
  /** The list's scrollTop at its last scroll event: a smaller one is the reader scrolling up. */
  #lastScrollTop = 0
  /** Messages that grow after the list scrolled (anchor marks render in their own update) keep it at the bottom. */
  readonly #resized = new ResizeObserver(() => {
    if (!this.reading) this.#toBottom()
  })
  /** The messages {@link #resized} observes: those of the open conversation. */
  #observed = new WeakSet<Element>()

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('conversation')) {
      this.reading = false
      this.#resized.disconnect()
      this.#observed = new WeakSet()
    }
    this.#sessionChanges.target = this.session
    this.#conversationChanges.target = this.conversations
    this.#anchoringChanges.target = this.anchoring
    // Unchanged room: a no-op. Called on every update, so a session that signs in later starts checking.
    this.anchoring?.watch(this.conversation)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.#resized.disconnect()
    this.#observed = new WeakSet()
    this.anchoring?.watch(undefined)
  }

  override updated(changed: PropertyValues<this>): void {
    const list = this.list
    for (const item of list?.children ?? []) {
      if (this.#observed.has(item)) continue
      this.#observed.add(item)
      this.#resized.observe(item)
    }
    if (!this.reading) this.#toBottom()
    if (changed.has('conversation')) this.problem = undefined
    if (document.visibilityState === 'visible') this.conversations?.markRead(this.conversation)
  }

  override render() {
    const session = this.session
    const conversations = this.conversations
    const view = conversations?.get(this.conversation)
    if (session === undefined || conversations === undefined || view === undefined) {
      return html`<p class="muted">Pick a conversation.</p>`
    }
    const isRoom = view.kind === 'room'
    const title = isRoom ? `# ${view.name}` : `DM with ${view.name}`
    const link = conversations.inviteLink(view.id)
    const others = view.members.filter((m) => m.address !== session.address)
    // Written here, not sent yet: the composer works offline too, and in a room still being joined again.
    const canWrite = view.state === 'joined' || view.state === 'joining'
    const requirement = isRoom && view.state !== 'not-eligible' ? conversations.requirement(view.id) : undefined
    return html`
      <header>
        <div>
          <h2>${title}</h2>
          ${
            isRoom
              ? html`<span class="meta" data-testid="members">${others.length === 0 ? 'nobody else here right now' : `here: ${others.map((m) => this.#memberLabel(m)).join(', ')}`}</span>`
              : ''
          }
          ${requirement === undefined ? '' : html`<span class="meta requirement" data-testid="requirement" title=${requirement}>${requirement}</span>`}
        </div>
        <div class="actions">
          ${isRoom && view.state === 'joined' && this.anchoring?.canAnchor === true ? html`<sc-anchor-action .room=${view.id}></sc-anchor-action>` : ''}
          <button class="secondary" @click=${this.#leave}>${isRoom ? 'Leave room' : 'Close'}</button>
        </div>
      </header>
      <div class="body">
        ${this.#stateNotice(view.state, view.problem, session.network)}
        ${
          view.catchingUp === undefined
            ? ''
            : html`<div class="catching-up" role="status" data-testid="catch-up">${catchingUpText(view.catchingUp)}</div>`
        }
        ${link === undefined || view.state !== 'joined' ? '' : html`<details><summary>Invite people</summary><sc-invite-share .link=${link}></sc-invite-share></details>`}
        <div class="log" role="log" aria-live="polite" aria-label="Messages">
          <ol class="messages" @scroll=${this.#onScroll}>
            ${repeat(
              withDays(
                withGaps(conversations.history(this.conversation), conversations.gaps(this.conversation)),
                conversations.pending(this.conversation),
              ),
              itemKey,
              (item) => {
                switch (item.kind) {
                  case 'day':
                    return html`<li class="day" data-testid="day">${dayLabel(item.atMs)}</li>`
                  case 'gap':
                    return gapLine(item.line)
                  case 'message':
                    return this.#message(item.entry)
                  case 'pending':
                    return this.#pending(item.item, session.network === 'online')
                }
              },
            )}
          </ol>
        </div>
        ${this.reading ? html`<button class="newest" @click=${this.#toNewest}>New messages ↓</button>` : ''}
      </div>
      <sc-composer ?disabled=${!canWrite} .send=${this.#send}></sc-composer>
      ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
    `
  }

  /** `0x12…ab (direct)` when this browser reaches the member over its own WebRTC connection, not via a relay. */
  #memberLabel(member: RoomMember): string {
    const direct = this.session?.client?.directConnections?.isDirect(member.peerId) === true
    return `${shortAddress(member.address)}${direct ? ' (direct)' : ''}`
  }

  #stateNotice(state: string, problem: string | undefined, network: string) {
    if (state === 'not-eligible') {
      return html`<div class="state" role="status" data-testid="not-eligible"><strong>You are not eligible for this room.</strong> ${problem ?? ''}</div>`
    }
    if (state === 'error') return html`<div class="state" role="alert">${problem}</div>`
    // Offline is said once, by the app's banner; a room being joined again says so in a line, not a box.
    if (network === 'online' && state === 'joining')
      return html`<div class="catching-up" role="status">Connecting…</div>`
    return ''
  }

  #message(entry: ChatEntry) {
    const time = timeOf(entry.sentAtMs)
    if (entry.state === 'undecryptable') {
      return html`<li class="undecryptable" data-message-id=${entry.id}>
        <span class="meta">${shortAddress(entry.sender)} · ${time}</span>
        <div>Cannot decrypt this message: ${entry.reason}</div>
        ${this.#anchorMark(entry)}
      </li>`
    }
    return html`<li class=${entry.mine ? 'mine' : ''} data-message-id=${entry.id}>
      <span class="meta" title=${entry.sender}>${entry.mine ? 'you' : shortAddress(entry.sender)} · ${time}</span>${deliveryMark(entry)}
      <div class="text" dir="auto">${messageBody(entry.text)}</div>
      ${this.#anchorMark(entry)}
    </li>`
  }

  /** Written on this device, not sent yet: shown as such, with why when a try failed. */
  #pending(item: PendingMessage, online: boolean) {
    const problem = this.conversations?.sendProblem(item.id)
    const status =
      problem !== undefined
        ? `not sent yet: ${problem}`
        : online
          ? 'sending…'
          : 'pending — will be sent when you reconnect'
    return html`<li class="mine pending" data-pending-id=${item.id}>
      <span class="meta">you · ${timeOf(item.writtenAtMs)} · <span data-testid="pending">${status}</span></span>
      <div class="text" dir="auto">${messageBody(item.text)}</div>
    </li>`
  }

  #anchorMark(entry: ChatEntry) {
    if (entry.anchor === undefined) return ''
    return html`<sc-anchor-mark .anchor=${entry.anchor} messageId=${entry.id}></sc-anchor-mark>`
  }

  /** The composer's: the message goes to the outbox; why it could not is said under the composer. */
  readonly #send = async (text: string): Promise<void> => {
    if (this.conversations === undefined) throw new Error('not signed in')
    this.problem = undefined
    // One's own message is always shown, wherever the reader was.
    this.reading = false
    try {
      await this.conversations.send(this.conversation, text)
    } catch (err) {
      this.problem = describeError(err)
      throw err
    }
  }

  #onScroll(): void {
    const list = this.list
    if (list === undefined) return
    const fromBottom = list.scrollHeight - list.scrollTop - list.clientHeight
    if (fromBottom <= FOLLOW_NEWEST_SLACK_PX) this.reading = false
    else if (list.scrollTop < this.#lastScrollTop) this.reading = true
    this.#lastScrollTop = list.scrollTop
  }

  #toNewest(): void {
    this.reading = false
    this.#toBottom()
  }

  #toBottom(): void {
    const list = this.list
    if (list === undefined) return
    list.scrollTo({ top: list.scrollHeight })
    this.#lastScrollTop = list.scrollTop
  }

  async #leave(): Promise<void> {
    await this.conversations?.leave(this.conversation)
    this.dispatchEvent(new CustomEvent('conversation-selected', { detail: undefined, bubbles: true, composed: true }))
  }
}

/**
 * A sent DM's ` · sent` or ` · delivered` (once any of the other wallet's devices sent its receipt), with each
 * device in the title: "delivered to 1 of 2 devices".
 */
function deliveryMark(entry: ChatEntry) {
  const devices = entry.delivery
  if (devices === undefined || devices.length === 0) return ''
  const delivered = devices.filter((d) => d.status === 'delivered').length
  const failed = devices.filter((d) => d.status === 'failed').length
  const title = [
    `delivered to ${delivered} of ${devices.length} device${devices.length === 1 ? '' : 's'}`,
    ...(failed === 0 ? [] : [`not sent to ${failed}`]),
  ].join('; ')
  return html`<span class="meta"> · <span data-testid="delivery" title=${title}>${delivered > 0 ? 'delivered' : 'sent'}</span></span>`
}

/** The history with each gap line before the message that named it; one whose message is not shown, last. */
function withGaps(history: readonly ChatEntry[], gaps: readonly GapLine[]): ListItem[] {
  const shown = new Set(history.map((entry) => entry.id))
  const placed = new Map(gaps.filter((g) => g.before !== undefined && shown.has(g.before)).map((g) => [g.before, g]))
  const items = history.flatMap((entry) => {
    const line = placed.get(entry.id)
    return [...(line === undefined ? [] : [{ kind: 'gap' as const, line }]), { kind: 'message' as const, entry }]
  })
  for (const line of gaps) if (!placed.has(line.before)) items.push({ kind: 'gap' as const, line })
  return items
}

type ListItem =
  | { kind: 'message'; entry: ChatEntry }
  | { kind: 'gap'; line: GapLine }
  | { kind: 'pending'; item: PendingMessage }
  | { kind: 'day'; atMs: number }

function itemKey(item: ListItem): string {
  switch (item.kind) {
    case 'message':
      return item.entry.id
    case 'gap':
      return `gap:${item.line.before ?? ''}`
    case 'pending':
      return `pending:${item.item.id}`
    case 'day':
      return `day:${dayKey(item.atMs)}`
  }
}

/**
 * The messages, then those still pending, with a day line before each day's first: a message stamped earlier than
 * the one before it (a sender's clock, a late catch-up) stays where it is and names no day of its own.
 */
function withDays(items: ListItem[], pending: readonly PendingMessage[]): ListItem[] {
  const out: ListItem[] = []
  let latestMs = Number.NEGATIVE_INFINITY
  for (const item of [...items, ...pending.map((p): ListItem => ({ kind: 'pending', item: p }))]) {
    const atMs =
      item.kind === 'message' ? item.entry.sentAtMs : item.kind === 'pending' ? item.item.writtenAtMs : undefined
    if (atMs !== undefined && atMs > latestMs && dayKey(atMs) !== '') {
      if (dayKey(atMs) !== dayKey(latestMs)) out.push({ kind: 'day', atMs })
      latestMs = atMs
    }
    out.push(item)
  }
  return out
}

/** A message's time: hours and minutes, the full date and time on hover and to machines. */
function timeOf(ms: number) {
  return html`<time datetime=${isoDateTime(ms)} title=${dateTime(ms)}>${shortTime(ms)}</time>`
}

/** "2 messages missing — fetching…", then gone once filled, or "2 messages could not be recovered". */
function gapLine(line: GapLine) {
  const count = (n: number) => `${n.toLocaleString('en')} message${n === 1 ? '' : 's'}`
  const parts = [
    ...(line.missing === 0 ? [] : [`${count(line.missing)} missing — fetching…`]),
    ...(line.lost === 0 ? [] : [`${line.missing === 0 ? count(line.lost) : line.lost} could not be recovered`]),
  ]
  return html`<li class=${line.missing === 0 ? 'gap lost' : 'gap'} role="status" data-testid="gap" title=${
    line.missing === 0
      ? 'No relay or member still holds them: they stay missing.'
      : 'Later messages name them; asking the relays and the other members for them.'
  }>${parts.join('; ')}</li>`
}

/** "catching up 340 of 1,000": how far a catch-up from the relays' stores is. */
function catchingUpText(progress: { delivered: number; fetched: number | undefined }): string {
  return progress.fetched === undefined
    ? 'catching up…'
    : `catching up ${progress.delivered.toLocaleString('en')} of ${progress.fetched.toLocaleString('en')}`
}

declare global {
  interface HTMLElementTagNameMap {
    'sc-chat-view': ScChatView
  }
}
