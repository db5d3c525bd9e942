import { css, html } from 'lit'
import type { LogLine } from '../state/moderation.ts'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'

/**
 * A room's moderation log as the room's details show it: each event — who did what to whom, when, and whether it
 * applied (a void one says why) — newest first. Addresses are short; the full ones are in the titles.
 */
export function moderationLogList(lines: readonly LogLine[]) {
  if (lines.length === 0)
    return html`<p class="muted log-empty" data-testid="moderation-log-empty">No moderation yet.</p>`
  return html`<ol class="moderation-log" data-testid="moderation-log">
    ${lines.map(
      (line) => html`<li data-testid="log-event" data-hash=${line.hash} title=${`${line.author} → ${line.target}`}>
        <span class="what">${line.text}${
          line.until === undefined
            ? ''
            : html` until <time datetime=${isoDateTime(line.until)}>${dateTime(line.until)}</time>`
        }</span>
        <time datetime=${isoDateTime(line.atMs)} title=${dateTime(line.atMs)}>${shortTime(line.atMs)}</time>
        <span class=${line.applied ? 'applied' : 'void'} data-testid="log-status">${
          line.applied ? 'applied' : `void: ${line.reason ?? 'not applied'}`
        }</span>
      </li>`,
    )}
  </ol>`
}

export const moderationLogStyles = css`
  .moderation-log {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 0.25rem;
    font-size: 0.875rem;
  }
  .moderation-log li {
    display: grid;
    grid-template-columns: 1fr auto;
    gap: 0 0.5rem;
    padding: 0.25rem 0.5rem;
    border-left: 3px solid var(--sc-border);
  }
  .moderation-log .what {
    overflow-wrap: anywhere;
  }
  .moderation-log time,
  .moderation-log .applied {
    color: var(--sc-muted);
  }
  .moderation-log .void {
    grid-column: 1 / -1;
    color: var(--sc-danger);
  }
  .log-empty {
    margin: 0;
    font-size: 0.875rem;
  }
`
