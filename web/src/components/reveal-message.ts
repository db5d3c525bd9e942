/**
 * Brings message `id` of the open conversation into view, marks it (`data-found`, the one mark of the view) and
 * puts the focus on it (a jump from the Mentions view or a search result), in the conversation or, `place`
 * `thread`, in the thread open beside it. After two frames: the conversation scrolls to its newest messages as it
 * first renders, and the jump must come after that (then the list, scrolled up, stays where the reader was
 * brought). False when the message is not shown there (a message beyond the history kept is gone).
 */
export async function revealMessage(
  view: HTMLElement & { updateComplete: Promise<boolean> },
  id: string,
  place: 'room' | 'thread' = 'room',
): Promise<boolean> {
  await view.updateComplete
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))
  const item = view.shadowRoot?.querySelector<HTMLElement>(`.${place} li[data-message-id="${CSS.escape(id)}"]`)
  if (item === undefined || item === null) return false
  for (const marked of view.shadowRoot?.querySelectorAll('li[data-found]') ?? []) marked.removeAttribute('data-found')
  item.setAttribute('data-found', '')
  item.scrollIntoView({ block: 'center' })
  // Focusable from here only, not a tab stop: the reader lands on the message, a screen reader reads it.
  item.tabIndex = -1
  item.focus({ preventScroll: true })
  return true
}
