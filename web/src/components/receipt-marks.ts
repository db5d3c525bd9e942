import type { MessageDelivery } from '@securechat/sdk/types'
import { html } from 'lit'
import type { ChatEntry } from '../state/history-store.ts'
import { shortAddress } from './styles.ts'

/**
 * The marks beside one's own message: how far it got. The check marks are drawn for the eye only (`aria-hidden`); the
 * words say it, and the title names each member or device.
 */

/**
 * A sent DM's ` · sent` or ` · delivered` (once any of the other wallet's devices sent its receipt), with each
 * device in the title: "delivered to 1 of 2 devices".
 */
export function dmDeliveryMark(entry: ChatEntry) {
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

/**
 * One's own room message: ` · ✓✓ read by …` once a member's read position reached it (`readers`: none while
 * receipts are off), else ` · ✓ delivered to N of M` (the member wallets present when it was sent, and their devices'
 * acknowledgements, `Room.delivery`), else ` · sent`. Nothing for one sent while nobody else was here, or before this
 * page started (delivery is kept in memory).
 */
export function roomReceiptMark(delivery: MessageDelivery | undefined, readers: readonly string[]) {
  const present = delivery?.present.length ?? 0
  const delivered = delivery?.delivered.length ?? 0
  const deliveredTitle = `delivered to ${delivered} of ${present} member${present === 1 ? '' : 's'} present${delivered === 0 ? '' : `: ${delivery!.delivered.map(shortAddress).join(', ')}`}`
  if (readers.length > 0) {
    const who = readers.length === 1 ? shortAddress(readers[0]!) : `${readers.length}`
    const title = [`read by ${readers.map(shortAddress).join(', ')}`, ...(present === 0 ? [] : [deliveredTitle])]
    return html`<span class="meta"> · <span data-testid="receipt-mark" title=${title.join('; ')}><span aria-hidden="true">✓✓ </span>read by ${who}</span></span>`
  }
  if (present === 0) return ''
  if (delivered === 0)
    return html`<span class="meta"> · <span data-testid="receipt-mark" title=${deliveredTitle}>sent</span></span>`
  return html`<span class="meta"> · <span data-testid="receipt-mark" title=${deliveredTitle}><span aria-hidden="true">✓ </span>delivered to ${delivered} of ${present}</span></span>`
}
