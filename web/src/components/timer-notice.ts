import { html } from 'lit'
import { describeTimer } from '../state/disappearing.ts'
import type { ChatEntry } from '../state/history-store.ts'
import { shortAddress } from './styles.ts'

/** The line a timer change leaves in the conversation: "0x12…ab set disappearing messages to 1 hour". */
export function timerNotice(entry: ChatEntry & { notice: { seconds: number } }) {
  const who = entry.mine ? 'You' : shortAddress(entry.sender)
  const what =
    entry.notice.seconds === 0
      ? 'turned disappearing messages off'
      : `set disappearing messages to ${describeTimer(entry.notice.seconds)}`
  return html`<li class="notice" role="status" data-message-id=${entry.id} data-testid="timer-notice"
    title=${entry.sender}>${who} ${what}</li>`
}
