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
import { shortTime } from './format-time.ts'
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
        height: 100%;
        min-height: 0;
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
      ol {
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
      li {
        background: var(--sc-panel);
        border-radius: 8px;
        padding: 0.5rem 0.75rem;
        max-width: 80%;
        overflow-wrap: anywhere;
      }
      li.mine {
        justify-self: end;
        background: #dbeafe;
      }
      li.undecryptable {
        border: 1px dashed var(--sc-danger);
      }
      li.pending {
        opacity: 0.75;
        border: 1px dashed var(--sc-muted);
      }
      /* A gap is a slim line between messages, not a message: it must not take over the conversation. */
      li.gap {
        justify-self: center;
        background: none;
        border: 1px dashed var(--sc-border);
        padding: 0.125rem 0.75rem;
        font-size: 0.875rem;
        color: var(--sc-muted);
      }
      li.gap.lost {
        border-color: var(--sc-danger);
        color: var(--sc-danger);
      }
      .catching-up {
        font-size: 0.875rem;
        color: var(--sc-muted);
        padding: 0.25rem 0;
      }
      .meta {
        font-size: 0.8125rem;
        color: var(--sc-muted);
      }
      form {
        display: flex;
        gap: 0.5rem;
        padding-top: 0.5rem;
      }
      form input {
        flex: 1;
        min-width: 0;
      }
      .state {
        padding: 1rem;
        border-radius: 8px;
        background: #fef3c7;
      }
      details {
        margin: 0.5rem 0;
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
  @query('ol') private list: HTMLOListElement | undefined

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
    return html`
      <header>
        <div>
          <h2>${title}</h2>
          ${
            isRoom
              ? html`<span class="meta" data-testid="members">${others.length === 0 ? 'nobody else here right now' : `here: ${others.map((m) => this.#memberLabel(m)).join(', ')}`}</span>`
              : ''
          }
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
        <ol role="log" aria-live="polite" aria-label="Messages" @scroll=${this.#onScroll}>
          ${repeat(
            withGaps(conversations.history(this.conversation), conversations.gaps(this.conversation)),
            (item) => (item.kind === 'gap' ? `gap:${item.line.before ?? ''}` : item.entry.id),
            (item) => (item.kind === 'gap' ? gapLine(item.line) : this.#message(item.entry)),
          )}
          ${repeat(
            conversations.pending(this.conversation),
            (item) => item.id,
            (item) => this.#pending(item, session.network === 'online'),
          )}
        </ol>
        ${this.reading ? html`<button class="newest" @click=${this.#toNewest}>New messages ↓</button>` : ''}
      </div>
      <form @submit=${this.#send}>
        <label class="visually-hidden" for="composer">Message</label>
        <input id="composer" name="text" autocomplete="off" maxlength="4000" ?disabled=${!canWrite} placeholder="Write a message" />
        <button type="submit" ?disabled=${!canWrite}>Send</button>
      </form>
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
    const time = shortTime(entry.sentAtMs)
    if (entry.state === 'undecryptable') {
      return html`<li class="undecryptable" data-message-id=${entry.id}>
        <span class="meta">${shortAddress(entry.sender)} · ${time}</span>
        <div>Cannot decrypt this message: ${entry.reason}</div>
        ${this.#anchorMark(entry)}
      </li>`
    }
    return html`<li class=${entry.mine ? 'mine' : ''} data-message-id=${entry.id}>
      <span class="meta" title=${entry.sender}>${entry.mine ? 'you' : shortAddress(entry.sender)} · ${time}</span>${deliveryMark(entry)}
      <div class="text">${entry.text}</div>
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
      <span class="meta">you · ${shortTime(item.writtenAtMs)} · <span data-testid="pending">${status}</span></span>
      <div class="text">${item.text}</div>
    </li>`
  }

  #anchorMark(entry: ChatEntry) {
    if (entry.anchor === undefined) return ''
    return html`<sc-anchor-mark .anchor=${entry.anchor} messageId=${entry.id}></sc-anchor-mark>`
  }

  async #send(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    const form = event.target as HTMLFormElement
    const input = form.elements.namedItem('text') as HTMLInputElement
    const text = input.value.trim()
    if (text === '' || this.conversations === undefined) return
    this.problem = undefined
    // One's own message is always shown, wherever the reader was.
    this.reading = false
    // Cleared at once, not once the send resolves: a send can take a while (a gated room's chain read, the
    // relay's store), and clearing after it wiped what the person had typed meanwhile — their next message.
    input.value = ''
    try {
      await this.conversations.send(this.conversation, text)
    } catch (err) {
      this.problem = describeError(err)
      // Not lost: back in the composer unless something new is being typed there.
      if (input.value === '') input.value = text
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
function withGaps(
  history: readonly ChatEntry[],
  gaps: readonly GapLine[],
): Array<{ kind: 'message'; entry: ChatEntry } | { kind: 'gap'; line: GapLine }> {
  const shown = new Set(history.map((entry) => entry.id))
  const placed = new Map(gaps.filter((g) => g.before !== undefined && shown.has(g.before)).map((g) => [g.before, g]))
  const items = history.flatMap((entry) => {
    const line = placed.get(entry.id)
    return [...(line === undefined ? [] : [{ kind: 'gap' as const, line }]), { kind: 'message' as const, entry }]
  })
  for (const line of gaps) if (!placed.has(line.before)) items.push({ kind: 'gap', line })
  return items
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
