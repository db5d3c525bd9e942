import type { FileTransferProgress } from '@securechat/sdk/files'
import { html } from 'lit'
import { transferLine } from './format-size.ts'

/**
 * A transfer's bar and its line (bytes, speed, time left), as a share above the composer and a download on a file
 * card show it: `label` names it for assistive technology, `testId` marks the line.
 */
export function transferProgress(progress: FileTransferProgress, label: string, testId: string) {
  return html`<progress max=${progress.totalBytes ?? 0} value=${progress.bytes} aria-label=${label}></progress>
    <span class="meta" role="status" data-testid=${testId}>${transferLine(progress)}</span>`
}
