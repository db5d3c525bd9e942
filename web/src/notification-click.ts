/**
 * A click on one of the app's notifications (a mention, a DM; `state/notifications.ts` shows them with
 * `data: { conversation, message }`) opens the app on that conversation, at that message; a call's ring (`data:
 * { conversation }`, no message) opens the conversation, where the call shows with its Join buttons. The service worker
 * (`sw.ts`) runs {@link openFromNotification}: it focuses a window of the app and tells it ({@link OPEN_MESSAGE}),
 * or opens one at {@link openUrl}; the page (`sc-app.ts`) opens the conversation once its vault is unlocked. Shared
 * by both, with nothing of the DOM or of the worker's scope: the clients are passed in.
 */

/** What the worker posts to a window of the app. */
export const OPEN_MESSAGE = 'securechat:open-message'

/** The hash of a window the worker opens: `#open=<conversation>/<message>`, or `#open=<conversation>` (a ring). */
const OPEN_HASH = '#open='

/** A conversation (a room's id, a DM's address) and a message id: hex, with a `0x` at most. Nothing else is taken. */
const ID = /^(0x)?[0-9a-fA-F]{1,128}$/

export interface OpenTarget {
  conversation: string
  /** The message to show; none: the conversation as it opens (a call's ring). */
  message?: string
}

/** The target in a notification's data or a worker's message; undefined for anything else (never thrown). */
export function openTarget(data: unknown): OpenTarget | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const { conversation, message } = data as Record<string, unknown>
  if (typeof conversation !== 'string' || !ID.test(conversation)) return undefined
  if (message === undefined) return { conversation }
  return typeof message === 'string' && ID.test(message) ? { conversation, message } : undefined
}

/** A worker's message to a window: the target, when it is one. */
export function openTargetOfMessage(data: unknown): OpenTarget | undefined {
  return (data as { type?: unknown } | null)?.type === OPEN_MESSAGE ? openTarget(data) : undefined
}

/** The address that opens the app on `target`. */
export function openUrl(target: OpenTarget): string {
  return `/${OPEN_HASH}${target.conversation}${target.message === undefined ? '' : `/${target.message}`}`
}

/** The target of a `#open=…` address, when it is one. */
export function openTargetOfHash(hash: string): OpenTarget | undefined {
  if (!hash.startsWith(OPEN_HASH)) return undefined
  const [conversation, message, ...rest] = hash.slice(OPEN_HASH.length).split('/')
  if (rest.length > 0) return undefined
  return openTarget(message === undefined ? { conversation } : { conversation, message })
}

/** The parts of a worker's `clients` and `WindowClient` this uses. */
export interface WindowLike {
  readonly focused: boolean
  focus(): Promise<unknown>
  postMessage(message: unknown): void
}
export interface ClientsLike {
  matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<readonly WindowLike[]>
  openWindow(url: string): Promise<unknown>
}

/**
 * What a click on a notification with `data` does: a window of the app already open (the focused one first) is
 * focused and told to open the target; with none, one opens on it. Data that is not the app's opens the app as it is.
 */
export async function openFromNotification(data: unknown, clients: ClientsLike): Promise<void> {
  const target = openTarget(data)
  const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true })
  const window = windows.find((client) => client.focused) ?? windows[0]
  if (window === undefined) {
    await clients.openWindow(target === undefined ? '/' : openUrl(target))
    return
  }
  if (target !== undefined) window.postMessage({ type: OPEN_MESSAGE, ...target })
  await window.focus()
}
