import { css, html } from 'lit'

/**
 * How a conversation shows mentions: a message that mentions this wallet is marked (`mentioned`, a left border and
 * "mentions you" for every reader, sighted or not), and every `@0x…` in a text is set apart (`message-body.ts`).
 */
export const mentionStyles = css`
  .messages > li.mentioned {
    border-inline-start: 4px solid var(--sc-accent);
    background: #eef2ff;
  }
  .mention-you {
    margin-inline-start: 0.5rem;
    font-size: 0.75rem;
    font-weight: 700;
    color: var(--sc-accent);
  }
  .text .mention {
    font-weight: 600;
    color: var(--sc-accent);
    overflow-wrap: anywhere;
  }
`

/** The words beside a message that mentions this wallet. */
export function mentionedMark(mentioned: boolean) {
  return mentioned ? html`<span class="mention-you" data-testid="mentions-you">mentions you</span>` : ''
}
