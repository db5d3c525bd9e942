import { html } from 'lit'
import type { PendingChange } from '../state/outbox.ts'
import { describeChange } from '../state/pending-changes.ts'

/**
 * Under a message, the reactions, edits and deletes of it made on this device and not sent yet: "your reaction 👍 —
 * pending, will be sent when you reconnect" (or "sending…", or why the last try failed).
 */
export function pendingChangeNotes(
  changes: readonly PendingChange[],
  online: boolean,
  problemOf: (id: string) => string | undefined,
) {
  if (changes.length === 0) return ''
  return html`<ul class="pending-changes" aria-label="Not sent yet">
    ${changes.map((item) => {
      const status = pendingStatus(problemOf(item.id), online)
      const text = item.change.kind === 'edit' ? html` (“<span dir="auto">${item.change.text}</span>”)` : ''
      return html`<li class="meta" data-testid="pending-change">${describeChange(item.change)}${text} — ${status}</li>`
    })}
  </ul>`
}

/** Where something written on this device and not sent yet stands: why its last try failed, or what comes next. */
export function pendingStatus(problem: string | undefined, online: boolean): string {
  if (problem !== undefined) return `not sent yet: ${problem}`
  return online ? 'sending…' : 'pending — will be sent when you reconnect'
}
