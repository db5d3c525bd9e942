import { consume } from '@lit/context'
import type { RoomMember } from '@securechat/sdk/types'
import { css, html, LitElement, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import type { Anchoring } from '../state/anchoring.ts'
import {
  anchoringContext,
  ChangeController,
  conversationsContext,
  filesContext,
  sessionContext,
  signalsContext,
} from '../state/context.ts'
import type { Conversations, ConversationView, GapLine } from '../state/conversations.ts'
import { describeError } from '../state/errors.ts'
import type { Files } from '../state/files.ts'
import type { ChatEntry } from '../state/history-store.ts'
import { mentionCandidates, mentionsMe } from '../state/mentions.ts'
import { moderationFailure, removeMessage } from '../state/moderation.ts'
import type { PendingMessage } from '../state/outbox.ts'
import type { Session } from '../state/session.ts'
import type { Signals } from '../state/signals.ts'
import './sc-anchor-mark.ts'
import './sc-call-start.ts'
import './sc-invite-share.ts'
import './sc-room-details.ts'
import { dateTime, dayKey, dayLabel, isoDateTime, shortTime } from './format-time.ts'
import { mentionedMark, mentionStyles } from './mention-marks.ts'
import { messageBody } from './message-body.ts'
import { editedMark, messageToolStyles, reactionChips, reactionPicker, threadSummary } from './message-tools.ts'
import { revealMessage } from './reveal-message.ts'
import { restrictionNotice, roleLine, sanctionNotice } from './sanction-notice.ts'
import type { ScComposer } from './sc-composer.ts'
import './sc-composer.ts'
import './sc-conversation-status.ts'
import './sc-disappear-dialog.ts'
import './sc-file-card.ts'
import './sc-file-upload.ts'
import { pendingChangeNotes, pendingStatus } from './pending-change-notes.ts'
import { dmDeliveryMark, roomReceiptMark } from './receipt-marks.ts'
import { baseStyles, shortAddress } from './styles.ts'
import { timerNotice } from './timer-notice.ts'

/** How near the bottom (px) still counts as reading the newest messages. */
const FOLLOW_NEWEST_SLACK_PX = 48

/** One conversation (room or DM): its state, members, messages and the composer. */
@customElement('sc-chat-view')
export class ScChatView extends LitElement {
  static override styles = [
    baseStyles,
    messageToolStyles,
    mentionStyles,
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
      .requirement,
      .role-line {
        display: block;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: start;
        justify-content: end;
      }
      /* A file dragged over the conversation: dropped, it is attached in the composer. */
      :host([dropping]) .room {
        outline: 3px dashed var(--sc-accent);
        outline-offset: -3px;
      }
      /* The messages scroll, not the page: header and composer stay in place. */
      .body {
        display: grid;
        grid-template-columns: minmax(0, 1fr);
        grid-template-rows: minmax(0, 1fr);
        min-height: 0;
        position: relative;
      }
      .body.with-thread {
        grid-template-columns: minmax(0, 1fr) minmax(16rem, 40%);
        gap: 0.75rem;
      }
      .room {
        display: flex;
        flex-direction: column;
        min-height: 0;
        position: relative;
      }
      /* A thread: beside the conversation, or over it on a phone. */
      .thread {
        display: flex;
        flex-direction: column;
        min-height: 0;
        border-inline-start: 1px solid var(--sc-border);
        padding-inline-start: 0.75rem;
        background: var(--sc-bg);
      }
      .thread-head {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 0.5rem;
      }
      .thread-head h3 {
        margin: 0;
        font-size: 1rem;
      }
      .thread ol.messages > li {
        max-width: 100%;
      }
      /* The message a search result opened. */
      .messages > li[data-found] {
        outline: 3px solid #f59e0b;
        outline-offset: -3px;
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
      /* A reaction, edit or delete of the message not sent yet (pending-change-notes.ts). */
      ul.pending-changes {
        margin: 0.25rem 0 0;
        padding-inline-start: 1rem;
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
      /* A change of the disappearing-messages timer (timer-notice.ts): a centred line, like a day's. */
      .messages > li.notice {
        justify-self: center;
        background: none;
        font-size: 0.8125rem;
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
          max-width: 60%;
        }
        /* Compact, so that the header's actions take one row where they fit, and the messages the screen. */
        .actions > button {
          min-height: 36px;
          padding: 0 0.5rem;
          font-size: 0.875rem;
        }
        details {
          margin: 0.25rem 0;
        }
        .body.with-thread {
          grid-template-columns: minmax(0, 1fr);
        }
        .thread {
          position: absolute;
          inset: 0;
          z-index: 1;
          border: none;
          padding: 0;
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

  @consume({ context: signalsContext, subscribe: true })
  @property({ attribute: false })
  signals: Signals | undefined

  @consume({ context: filesContext, subscribe: true })
  @property({ attribute: false })
  files: Files | undefined

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
  /**
   * Messages below the view: the list is scrolled up from its newest by more than {@link FOLLOW_NEWEST_SLACK_PX}.
   * Measured after each render, scroll and resize; "New messages ↓" shows only with something below to go to (not
   * when the list, or the window, grew to hold every message while the reader was scrolled up).
   */
  @state() private below = false
  /** The root of the thread open beside the conversation. */
  @state() private thread: string | undefined
  /**
   * The message whose reaction picker, edit form or delete question is open (one at a time), by {@link placeOf}:
   * a thread's root is shown twice, in the conversation and in the thread.
   */
  @state() private open: { at: string; what: 'react' | 'edit' | 'delete' | 'remove' } | undefined
  @query('ol.messages') private list!: HTMLOListElement | null
  @query('.thread sc-composer') private threadComposer!: ScComposer | null
  @query('sc-composer.main') private composer!: ScComposer | null

  constructor() {
    super()
    // Anywhere on the conversation, not only on the composer: the whole view is the drop target.
    this.addEventListener('dragover', this.#onDragOver)
    this.addEventListener('dragleave', this.#onDragLeave)
    this.addEventListener('drop', this.#onDrop)
  }

  readonly #sessionChanges = new ChangeController<Session>(this, 'session:changed')
  readonly #conversationChanges = new ChangeController<Conversations>(this, 'conversations:changed')
  readonly #receiptChanges = new ChangeController<Signals>(this, 'receipts:changed')
  /** Who read the open conversation up to a message, by its id: set as it renders (`Signals.readers`). */
  #readers: (messageId: string) => string[] = () => []
  /** The list's scrollTop at its last scroll event: a smaller one is the reader scrolling up. */
  #lastScrollTop = 0
  /** Messages that grow after the list scrolled (anchor marks render in their own update) keep it at the bottom. */
  readonly #resized = new ResizeObserver(() => {
    if (!this.reading) this.#toBottom()
    this.#measure()
  })
  /** The messages {@link #resized} observes: those of the open conversation. */
  #observed = new WeakSet<Element>()

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('conversation')) {
      this.reading = false
      this.thread = undefined
      this.open = undefined
      this.#resized.disconnect()
      this.#observed = new WeakSet()
    }
    this.#sessionChanges.target = this.session
    this.#conversationChanges.target = this.conversations
    this.#receiptChanges.target = this.signals
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
    // The list itself too: a taller window may show every message.
    for (const item of list === null ? [] : [list, ...list.children]) {
      if (this.#observed.has(item)) continue
      this.#observed.add(item)
      this.#resized.observe(item)
    }
    if (!this.reading) this.#toBottom()
    this.#measure()
    if (changed.has('conversation')) this.problem = undefined
    if (document.visibilityState === 'visible') {
      this.conversations?.markRead(this.conversation)
      this.signals?.read(this.conversation)
    }
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
    const restriction = isRoom ? conversations.restriction(view.id) : undefined
    const canWrite = (view.state === 'joined' || view.state === 'joining') && restriction === undefined
    const requirement = isRoom && view.state !== 'not-eligible' ? conversations.requirement(view.id) : undefined
    const history = conversations.history(this.conversation)
    const threads = conversations.threads(this.conversation)
    const inThreads = new Set([...threads.values()].flatMap((replies) => replies.map((entry) => entry.id)))
    const root = this.thread === undefined ? undefined : history.find((entry) => entry.id === this.thread)
    const thread = root === undefined ? undefined : { root, replies: threads.get(root.id) ?? [] }
    const mentionables = mentionCandidates(view, history, session.address ?? '')
    this.#readers = this.signals?.readers(this.conversation, history) ?? (() => [])
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
          ${isRoom ? roleLine(conversations.roleIn(view.id)) : ''}
        </div>
        <div class="actions">
          <sc-call-start .conversation=${view.id} ?joined=${view.state === 'joined'}></sc-call-start>
          ${isRoom ? html`<sc-room-details .room=${view.id} .name=${view.name} ?joined=${view.state === 'joined'}></sc-room-details>` : ''}
          ${view.state === 'joined' ? html`<sc-disappear-dialog .seconds=${conversations.timers.current(view.id)?.seconds} .refusal=${conversations.timers.refusal(view, session.address ?? '')} .set=${(seconds: number) => conversations.setDisappearing(view.id, seconds)}></sc-disappear-dialog>` : ''}
          <button class="secondary" @click=${this.#leave}>${isRoom ? 'Leave room' : 'Close'}</button>
        </div>
      </header>
      <div class=${thread === undefined ? 'body' : 'body with-thread'}>
        <div class="room">
        ${this.#stateNotice(view, session.network)}
        <sc-call-banner .conversation=${view.id}></sc-call-banner>
        ${restriction === undefined ? '' : restrictionNotice(restriction)}
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
                withGaps(
                  history.filter((entry) => !inThreads.has(entry.id)),
                  conversations.gaps(this.conversation),
                ),
                conversations.pending(this.conversation).filter((item) => item.parentId === undefined),
              ),
              itemKey,
              (item) => {
                switch (item.kind) {
                  case 'day':
                    return html`<li class="day" data-testid="day">${dayLabel(item.atMs)}</li>`
                  case 'gap':
                    return gapLine(item.line)
                  case 'message':
                    return this.#message(item.entry, threads.get(item.entry.id) ?? [])
                  case 'pending':
                    return this.#pending(item.item, session.network === 'online')
                }
              },
            )}
          </ol>
        </div>
        ${this.reading && this.below ? html`<button class="newest" @click=${this.#toNewest}>New messages ↓</button>` : ''}
        </div>
        ${thread === undefined ? '' : this.#threadView(thread.root, thread.replies, canWrite, mentionables)}
      </div>
      <sc-conversation-status .conversation=${this.conversation}></sc-conversation-status>
      <sc-file-upload .conversation=${this.conversation}></sc-file-upload>
      <sc-composer class="main" ?disabled=${!canWrite} .send=${this.#send} .shareFile=${this.files === undefined ? undefined : this.#shareFile} .mentionables=${mentionables} @input=${this.#onComposerInput}></sc-composer>
      ${this.problem === undefined ? '' : html`<p class="error" role="alert">${this.problem}</p>`}
    `
  }

  /** `0x12…ab (direct)` when this browser reaches the member over its own WebRTC connection, not via a relay. */
  #memberLabel(member: RoomMember): string {
    const direct = this.session?.client?.directConnections?.isDirect(member.peerId) === true
    return `${shortAddress(member.address)}${direct ? ' (direct)' : ''}`
  }

  #stateNotice(view: ConversationView, network: string) {
    const { state, problem } = view
    if (state === 'banned' || state === 'removed') return sanctionNotice(view, this.#rejoinRoom)
    if (state === 'not-eligible') {
      return html`<div class="state" role="status" data-testid="not-eligible"><strong>You are not eligible for this room.</strong> ${problem ?? ''}</div>`
    }
    if (state === 'error') return html`<div class="state" role="alert">${problem}</div>`
    // Offline is said once, by the app's banner; a room being joined again says so in a line, not a box.
    if (network === 'online' && state === 'joining')
      return html`<div class="catching-up" role="status">Connecting…</div>`
    return ''
  }

  /**
   * One message, in the conversation (with its thread's `replies`, summed up under it) or in the thread view
   * (`replies` undefined): its text (edited, or deleted), its reactions and its actions.
   */
  #message(entry: ChatEntry, replies: readonly ChatEntry[] | undefined) {
    if (entry.notice !== undefined) return timerNotice({ ...entry, notice: entry.notice })
    const time = timeOf(entry.sentAtMs)
    if (entry.state === 'undecryptable') {
      return html`<li class="undecryptable" data-message-id=${entry.id}>
        <span class="meta">${shortAddress(entry.sender)} · ${time}</span>
        <div>Cannot decrypt this message: ${entry.reason}</div>
        ${this.#anchorMark(entry)}
      </li>`
    }
    const summary =
      replies === undefined
        ? ''
        : threadSummary(replies.length, Math.max(...replies.map((r) => r.sentAtMs)), () => this.#openThread(entry.id))
    const who = html`<span class="meta" title=${entry.sender}>${entry.mine ? 'you' : shortAddress(entry.sender)} · ${time}</span>`
    if (entry.deleted === true) {
      return html`<li class=${entry.mine ? 'mine' : ''} data-message-id=${entry.id}>
        ${who}
        <div class="deleted" data-testid="deleted" title=${entry.removedBy ?? ''}>${
          entry.removedBy === undefined ? 'This message was deleted.' : 'Removed by a moderator.'
        }</div>
        ${summary}
      </li>`
    }
    const state = this.conversations?.messageState(this.conversation, entry.id)
    const at = placeOf(entry.id, replies === undefined ? 'thread' : 'room')
    const open = this.open?.at === at ? this.open.what : undefined
    const mentioned = mentionsMe(entry, this.session?.address ?? '')
    return html`<li class=${entry.mine ? 'mine' : mentioned ? 'mentioned' : ''} data-message-id=${entry.id}>
      ${who}${mentionedMark(mentioned)}${entry.edited === true ? html`<span class="meta">${editedMark(state?.versions)}</span>` : ''}${this.#receiptMark(entry)}
      ${open === 'edit' ? this.#editForm(at, entry) : entry.text === '' && entry.file !== undefined ? '' : html`<div class="text" dir="auto">${messageBody(entry.text)}</div>`}
      ${entry.file === undefined ? '' : html`<sc-file-card .messageId=${entry.id} .file=${entry.file}></sc-file-card>`}
      ${reactionChips(state?.reactions ?? [], this.session?.address ?? '', (emoji, mine) => this.#react(entry.id, emoji, mine))}
      ${pendingChangeNotes(this.conversations?.pendingChanges(this.conversation).filter((p) => p.change.target === entry.id) ?? [], this.session?.network === 'online', (id) => this.conversations?.sendProblem(id))}
      ${summary}
      ${
        open === 'react'
          ? reactionPicker(
              (emoji) => this.#pick(at, entry.id, emoji),
              () => this.#close(at, 'React'),
            )
          : ''
      }
      ${open === 'delete' ? this.#confirmDelete(at, entry.id) : ''}
      ${open === 'remove' ? this.#confirmRemove(at, entry.id) : ''}
      <div class="tools" role="toolbar" aria-label="Message actions">
        ${replies === undefined ? '' : html`<button type="button" class="secondary" @click=${() => this.#openThread(entry.id)}>Reply</button>`}
        <button type="button" class="secondary" aria-expanded=${open === 'react' ? 'true' : 'false'} @click=${() => this.#toggle(at, 'react')}>React</button>
        ${
          entry.mine
            ? html`<button type="button" class="secondary" @click=${() => this.#toggle(at, 'edit')}>Edit</button>
              <button type="button" class="secondary" @click=${() => this.#toggle(at, 'delete')}>Delete</button>`
            : this.#mayRemove(entry.sender)
              ? html`<button type="button" class="secondary" @click=${() => this.#toggle(at, 'remove')}>Remove</button>`
              : ''
        }
      </div>
      ${this.#anchorMark(entry)}
    </li>`
  }

  /** The thread open beside the conversation: its root, its replies, and a composer that replies in it. */
  #threadView(root: ChatEntry, replies: readonly ChatEntry[], canWrite: boolean, mentionables: readonly string[]) {
    const ids = new Set([root.id, ...replies.map((entry) => entry.id)])
    const pending = this.conversations?.pending(this.conversation).filter((p) => ids.has(p.parentId ?? '')) ?? []
    const online = this.session?.network === 'online'
    return html`<section class="thread" aria-label="Thread" data-testid="thread">
      <div class="thread-head">
        <h3>Thread</h3>
        <button type="button" class="secondary" @click=${this.#closeThread}>Close thread</button>
      </div>
      <div class="log" role="log" aria-live="polite" aria-label="Thread messages">
        <ol class="messages">
          ${repeat(
            [root, ...replies],
            (entry) => entry.id,
            (entry) => this.#message(entry, undefined),
          )}
          ${repeat(
            pending,
            (item) => item.id,
            (item) => this.#pending(item, online),
          )}
        </ol>
      </div>
      <sc-composer label="Reply in thread" ?disabled=${!canWrite} .send=${this.#reply} .mentionables=${mentionables}></sc-composer>
    </section>`
  }

  #editForm(at: string, entry: ChatEntry) {
    const save = async (event: Event): Promise<void> => {
      event.preventDefault()
      const input = (event.currentTarget as HTMLElement).closest('li')?.querySelector('textarea')
      const text = input?.value.trim() ?? ''
      if (text === '' || text === entry.text) return this.#close(at, 'Edit')
      await this.#act(() => this.conversations!.edit(this.conversation, entry.id, text))
      this.#close(at, 'Edit')
    }
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') this.#close(at, 'Edit')
      else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) void save(event)
    }
    return html`<form class="edit-form" @submit=${save}>
      <textarea aria-label="Edit message" .value=${entry.text} @keydown=${onKey}></textarea>
      <div>
        <button type="submit">Save</button>
        <button type="button" class="secondary" @click=${() => this.#close(at, 'Edit')}>Cancel</button>
      </div>
    </form>`
  }

  #confirmDelete(at: string, id: string) {
    return this.#confirm(at, 'Delete', 'Delete this message for everyone?', 'Delete for everyone', async () => {
      await this.#act(() => this.conversations!.delete(this.conversation, id))
      this.open = undefined
    })
  }

  /**
   * The inline question of the toolbar's `action` on the message at `at` (Escape or Cancel closes it, back to its
   * button): `question`, then `confirm` runs `run`.
   */
  #confirm(at: string, action: string, question: string, confirm: string, run: () => Promise<void>) {
    return html`<div class="confirm" role="group" aria-label="${action} this message?" @keydown=${(
      event: KeyboardEvent,
    ) => {
      if (event.key === 'Escape') this.#close(at, action)
    }}>
      <span>${question}</span>
      <button type="button" class="danger" @click=${run}>${confirm}</button>
      <button type="button" class="secondary" @click=${() => this.#close(at, action)}>Cancel</button>
    </div>`
  }

  /** Whether this wallet may remove `sender`'s messages as a moderator (the room's log says: it outranks them). */
  #mayRemove(sender: string): boolean {
    const self = this.session?.address
    const room = this.session?.client?.room(this.conversation)
    return self !== undefined && room !== undefined && room.moderation.refusal(self, 'remove', sender) === undefined
  }

  /** A moderator's question before removing someone else's message: the wallet signs it, every member sees it. */
  #confirmRemove(at: string, id: string) {
    const question =
      'Remove this message for everyone, as a moderator? It shows as removed by a moderator; your wallet signs this.'
    return this.#confirm(at, 'Remove', question, 'Remove for everyone', async () => {
      const signedIn = this.session?.signedIn
      const room = this.session?.client?.room(this.conversation)
      if (signedIn === undefined || room === undefined) return
      this.problem = undefined
      try {
        await removeMessage(signedIn, room, id)
      } catch (err) {
        this.problem = moderationFailure(err, 'remove this message')
      }
      this.open = undefined
    })
  }

  /** Opens (or closes) a message's picker, edit form or delete question, and puts the focus in it. */
  async #toggle(at: string, what: 'react' | 'edit' | 'delete' | 'remove'): Promise<void> {
    this.open = this.open?.at === at && this.open.what === what ? undefined : { at, what }
    if (this.open === undefined) return
    await this.updateComplete
    const item = this.#item(at)
    const first =
      what === 'edit'
        ? item?.querySelector('textarea')
        : item?.querySelector<HTMLElement>(what === 'react' ? '.picker button' : '.confirm button')
    first?.focus()
  }

  /** Closes what {@link #toggle} opened; the focus goes back to the action that opened it. */
  async #close(at: string, action: string): Promise<void> {
    this.open = undefined
    await this.updateComplete
    const button = [...(this.#item(at)?.querySelectorAll<HTMLButtonElement>('.tools button') ?? [])].find(
      (b) => b.textContent === action,
    )
    button?.focus()
  }

  /** The message's item where {@link placeOf} says: in the conversation, or in the thread view. */
  #item(at: string): HTMLElement | null {
    const [place, id] = at.split(' ')
    return this.renderRoot.querySelector<HTMLElement>(`.${place} li[data-message-id="${CSS.escape(id ?? '')}"]`)
  }

  async #pick(at: string, id: string, emoji: string): Promise<void> {
    const self = this.session?.address?.toLowerCase()
    const mine = this.conversations
      ?.messageState(this.conversation, id)
      ?.reactions.some((r) => r.emoji === emoji && r.by.some((by) => by.toLowerCase() === self))
    await this.#react(id, emoji, mine === true)
    await this.#close(at, 'React')
  }

  #react(id: string, emoji: string, mine: boolean): Promise<void> {
    return this.#act(() => this.conversations!.react(this.conversation, id, emoji, mine))
  }

  /** A reaction, edit or delete: why it failed is said under the composer. */
  async #act(action: () => Promise<void>): Promise<void> {
    this.problem = undefined
    try {
      await action()
    } catch (err) {
      this.problem = describeError(err)
    }
  }

  async #openThread(id: string): Promise<void> {
    this.thread = id
    this.open = undefined
    await this.updateComplete
    this.threadComposer?.focusInput()
  }

  #closeThread(): void {
    this.thread = undefined
  }

  /** The composer's file: shared live (see `Conversations.shareFile`); its progress and problems show above it. */
  readonly #shareFile = async (file: File, caption: string): Promise<boolean> => {
    if (this.files === undefined) return false
    this.problem = undefined
    return await this.files.share(this.conversation, file, caption)
  }

  /** A file dragged over the conversation: the pointer says it can be dropped, the conversation says where. */
  readonly #onDragOver = (event: DragEvent): void => {
    if (!event.dataTransfer?.types.includes('Files') || this.files === undefined) return
    event.preventDefault()
    event.dataTransfer.dropEffect = 'copy'
    this.toggleAttribute('dropping', true)
  }

  readonly #onDragLeave = (event: DragEvent): void => {
    // Leaving for one of its own children is not leaving.
    if (event.relatedTarget instanceof Node && this.contains(event.relatedTarget)) return
    this.toggleAttribute('dropping', false)
  }

  /** A file dropped on the conversation goes to the composer, to be sent with a caption (or without). */
  readonly #onDrop = (event: DragEvent): void => {
    this.toggleAttribute('dropping', false)
    const dropped = event.dataTransfer?.files[0]
    if (dropped === undefined) return
    event.preventDefault()
    this.composer?.attach(dropped)
  }

  /** The thread composer's: the reply goes to the outbox, as a message does, in the thread's root. */
  readonly #reply = async (text: string): Promise<void> => {
    const root = this.thread
    if (this.conversations === undefined || root === undefined) throw new Error('no thread open')
    this.problem = undefined
    try {
      await this.conversations.send(this.conversation, text, root)
    } catch (err) {
      this.problem = describeError(err)
      throw err
    }
  }

  /** Written on this device, not sent yet: shown as such, with why when a try failed. */
  #pending(item: PendingMessage, online: boolean) {
    const status = pendingStatus(this.conversations?.sendProblem(item.id), online)
    return html`<li class="mine pending" data-pending-id=${item.id}>
      <span class="meta">you · ${timeOf(item.writtenAtMs)} · <span data-testid="pending">${status}</span></span>
      <div class="text" dir="auto">${messageBody(item.text)}</div>
    </li>`
  }

  /** One's own message: a DM's delivery per device, a room's delivery to the members and who read it. */
  #receiptMark(entry: ChatEntry) {
    if (!entry.mine) return ''
    if (this.conversations?.get(this.conversation)?.kind !== 'room') return dmDeliveryMark(entry)
    const self = this.session?.address?.toLowerCase()
    const readers = this.#readers(entry.id).filter((address) => address.toLowerCase() !== self)
    return roomReceiptMark(this.signals?.delivery(this.conversation, entry.id), readers)
  }

  #anchorMark(entry: ChatEntry) {
    if (entry.anchor === undefined) return ''
    return html`<sc-anchor-mark .anchor=${entry.anchor} messageId=${entry.id}></sc-anchor-mark>`
  }

  readonly #rejoinRoom = (): Promise<void> => this.#act(() => this.conversations!.rejoin(this.conversation))

  /** The composer's: the message goes to the outbox; why it could not is said under the composer. */
  readonly #send = async (text: string): Promise<void> => {
    if (this.conversations === undefined) throw new Error('not signed in')
    this.problem = undefined
    // One's own message is always shown, wherever the reader was.
    this.reading = false
    this.signals?.typing(this.conversation, '')
    try {
      await this.conversations.send(this.conversation, text)
    } catch (err) {
      this.problem = describeError(err)
      throw err
    }
  }

  /**
   * Opens message `id` where it is shown — in its thread when it is a reply (the thread opens) — scrolled to,
   * marked and focused (`reveal-message.ts`): a jump from the Mentions view or a search result. False when the
   * conversation does not show it.
   */
  async showMessage(id: string): Promise<boolean> {
    // After the update that opened the conversation: it starts at the newest messages, which this leaves.
    await this.updateComplete
    const threads = this.conversations?.threads(this.conversation) ?? new Map<string, ChatEntry[]>()
    const root = [...threads].find(([, replies]) => replies.some((entry) => entry.id === id))?.[0]
    this.thread = root
    this.open = undefined
    // Away from the newest: what arrives meanwhile does not scroll the list from the message.
    this.reading = true
    const shown = await revealMessage(this, id, root === undefined ? 'room' : 'thread')
    // Every message in view (a short conversation, or one at its end): nothing below to go to, so no "New messages ↓".
    if (this.#fromBottom() <= FOLLOW_NEWEST_SLACK_PX) this.reading = false
    return shown
  }

  /** What the composer holds now: typing while it is not empty (`state/signals.ts` paces what goes out). */
  readonly #onComposerInput = (event: Event): void => {
    const field = event.composedPath()[0]
    if (field instanceof HTMLTextAreaElement) this.signals?.typing(this.conversation, field.value)
  }

  #onScroll(): void {
    const list = this.list
    if (list === null) return
    if (this.#fromBottom() <= FOLLOW_NEWEST_SLACK_PX) this.reading = false
    else if (list.scrollTop < this.#lastScrollTop) this.reading = true
    this.#lastScrollTop = list.scrollTop
    this.#measure()
  }

  #measure(): void {
    const below = this.#fromBottom() > FOLLOW_NEWEST_SLACK_PX
    if (below !== this.below) this.below = below
  }

  /** How far (px) the conversation's list is scrolled up from its newest message. */
  #fromBottom(): number {
    const list = this.list
    return list === null ? 0 : list.scrollHeight - list.scrollTop - list.clientHeight
  }

  #toNewest(): void {
    this.reading = false
    this.#toBottom()
  }

  #toBottom(): void {
    const list = this.list
    if (list === null) return
    list.scrollTo({ top: list.scrollHeight })
    this.#lastScrollTop = list.scrollTop
  }

  async #leave(): Promise<void> {
    await this.conversations?.leave(this.conversation)
    this.dispatchEvent(new CustomEvent('conversation-selected', { detail: undefined, bubbles: true, composed: true }))
  }
}

/** Where a message is shown: `room` (the conversation) or `thread`, and which. */
function placeOf(id: string, place: 'room' | 'thread'): string {
  return `${place} ${id}`
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
