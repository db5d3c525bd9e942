/**
 * Brings message `id` of the open conversation into view and puts the focus on it (a jump from the Mentions view).
 * After two frames: the conversation scrolls to its newest messages as it first renders, and the jump must come
 * after that (then the list, scrolled up, stays where the reader was brought). False when the message is not shown
 * in the conversation (a reply shows in its thread, a message beyond the history kept is gone).
 */
export async function revealMessage(
  view: HTMLElement & { updateComplete: Promise<boolean> },
  id: string,
): Promise<boolean> {
  await view.updateComplete
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))
  const item = view.shadowRoot?.querySelector<HTMLElement>(`.room li[data-message-id="${CSS.escape(id)}"]`)
  if (item === undefined || item === null) return false
  item.scrollIntoView({ block: 'center' })
  // Focusable from here only, not a tab stop: the reader lands on the message, a screen reader reads it.
  item.tabIndex = -1
  item.focus({ preventScroll: true })
  return true
}
