import type { MessageReaction, MessageVersion } from '@securechat/sdk/types'
import { css, html } from 'lit'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'
import { messageBody } from './message-body.ts'
import { shortAddress } from './styles.ts'

/**
 * What a message offers beside its text — its actions, the reaction picker, the reactions' chips, the "edited"
 * mark with its versions and the thread summary under a thread's root — as templates `sc-chat-view` puts in each
 * message; their state (which message is being edited, which picker is open) is the view's.
 */

/** The picker's emoji, with the names a screen reader says. */
export const COMMON_REACTIONS: ReadonlyArray<{ emoji: string; name: string }> = [
  { emoji: '👍', name: 'thumbs up' },
  { emoji: '❤️', name: 'heart' },
  { emoji: '😂', name: 'laughing' },
  { emoji: '🎉', name: 'party' },
  { emoji: '😮', name: 'surprised' },
  { emoji: '😢', name: 'sad' },
  { emoji: '🙏', name: 'thank you' },
  { emoji: '👀', name: 'looking' },
]

export const messageToolStyles = css`
  /*
   * A message's actions float over its top corner on hover and on focus (keyboard): out of the flow, so a message
   * reserves no empty row for them. One row, growing into the conversation (leftwards from one's own messages on the
   * right, rightwards from the others'), so that on a short message it covers the sender line only, never the marks
   * and reactions under the text. On a touch screen, with no hover, they sit under the text, always shown.
   */
  li[data-message-id] {
    position: relative;
  }
  .tools {
    display: flex;
    gap: 0.25rem;
    white-space: nowrap;
    position: absolute;
    top: 0.125rem;
    inset-inline-start: 0.25rem;
    padding: 0.125rem;
    border-radius: 8px;
    background: var(--sc-bg);
    box-shadow: 0 1px 4px rgb(0 0 0 / 20%);
    opacity: 0;
    pointer-events: none;
  }
  li.mine > .tools {
    inset-inline-start: auto;
    inset-inline-end: 0.25rem;
  }
  li:hover > .tools,
  li:focus-within > .tools {
    opacity: 1;
    pointer-events: auto;
  }
  @media (hover: none) {
    .tools {
      flex-wrap: wrap;
      white-space: normal;
      position: static;
      margin-top: 0.25rem;
      padding: 0;
      background: none;
      box-shadow: none;
      opacity: 1;
      pointer-events: auto;
    }
  }
  .tools button,
  .reactions button,
  .picker button,
  .confirm button,
  .edit-form button,
  .thread-summary {
    min-height: 32px;
    padding: 0 0.5rem;
    font-size: 0.875rem;
  }
  .reactions {
    display: flex;
    flex-wrap: wrap;
    gap: 0.25rem;
    margin-top: 0.25rem;
  }
  .reactions button {
    border-radius: 999px;
    background: var(--sc-bg);
    color: var(--sc-fg);
    border-color: var(--sc-border);
  }
  .reactions button[aria-pressed='true'] {
    border-color: var(--sc-accent);
    background: #eff6ff;
  }
  .picker,
  .confirm {
    display: flex;
    flex-wrap: wrap;
    gap: 0.25rem;
    align-items: center;
    margin-top: 0.25rem;
  }
  .picker button {
    background: var(--sc-bg);
    border-color: var(--sc-border);
    font-size: 1.125rem;
  }
  .confirm button.danger {
    background: var(--sc-danger);
    border-color: var(--sc-danger);
  }
  .edit-form {
    display: grid;
    gap: 0.25rem;
  }
  .edit-form textarea {
    field-sizing: content;
    padding: 0.5rem;
    min-width: 16rem;
    max-width: 100%;
  }
  .edit-form div {
    display: flex;
    gap: 0.25rem;
  }
  .deleted {
    font-style: italic;
    color: var(--sc-muted);
  }
  details.edited {
    display: inline;
    margin: 0;
  }
  details.edited summary {
    display: inline;
    cursor: pointer;
    text-decoration: underline dotted;
  }
  details.edited ol {
    margin: 0.25rem 0;
    padding-inline-start: 1.25rem;
  }
  .thread-summary {
    display: block;
    margin-top: 0.25rem;
    background: var(--sc-bg);
    color: var(--sc-accent);
  }
`

/** The chips of a message's reactions: the count, who in the title; pressed when this wallet is one of them. */
export function reactionChips(
  reactions: readonly MessageReaction[],
  self: string,
  toggle: (emoji: string, mine: boolean) => void,
) {
  if (reactions.length === 0) return ''
  return html`<div class="reactions" data-testid="reactions">${reactions.map((reaction) => {
    const mine = reaction.by.some((by) => by.toLowerCase() === self.toLowerCase())
    const who = reaction.by.map((by) => (by.toLowerCase() === self.toLowerCase() ? 'you' : shortAddress(by)))
    return html`<button
      type="button"
      data-emoji=${reaction.emoji}
      aria-pressed=${mine ? 'true' : 'false'}
      title=${`${reaction.emoji} by ${who.join(', ')}${mine ? ' (click to take yours back)' : ''}`}
      @click=${() => toggle(reaction.emoji, mine)}
    >${reaction.emoji} ${reaction.count}</button>`
  })}</div>`
}

/** The small picker React opens: a click adds (or, when already there, takes back) that reaction. */
export function reactionPicker(pick: (emoji: string) => void, close: () => void) {
  const onKey = (event: KeyboardEvent): void => {
    if (event.key === 'Escape') close()
  }
  return html`<div class="picker" role="group" aria-label="Pick a reaction" @keydown=${onKey}>${COMMON_REACTIONS.map(
    ({ emoji, name }) =>
      html`<button type="button" class="secondary" aria-label=${`React with ${name}`} title=${name} @click=${() => pick(emoji)}>${emoji}</button>`,
  )}<button type="button" class="secondary" @click=${close}>Close</button></div>`
}

/** " · edited", its versions (oldest first, each with its time) a click away when the sdk has them. */
export function editedMark(versions: readonly MessageVersion[] | undefined) {
  if (versions === undefined || versions.length < 2) return html` · <span data-testid="edited">edited</span>`
  return html` · <details class="edited"><summary data-testid="edited">edited</summary><ol aria-label="Versions">${versions.map(
    (version) =>
      html`<li><time datetime=${isoDateTime(version.atMs)} title=${dateTime(version.atMs)}>${shortTime(version.atMs)}</time> <div dir="auto">${messageBody(version.body)}</div></li>`,
  )}</ol></details>`
}

/** "2 replies · last 14:02" under a thread's root: opens the thread. */
export function threadSummary(replies: number, lastAtMs: number, open: () => void) {
  if (replies === 0) return ''
  return html`<button type="button" class="secondary thread-summary" data-testid="thread-summary" @click=${open}>${replies} ${
    replies === 1 ? 'reply' : 'replies'
  } · last <time datetime=${isoDateTime(lastAtMs)} title=${dateTime(lastAtMs)}>${shortTime(lastAtMs)}</time></button>`
}
