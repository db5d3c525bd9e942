import type { Vault } from '@securechat/sdk/vault'
import { z } from 'zod'
import type { Conversations, ConversationView } from './conversations.ts'
import type { ChatEntry } from './history-store.ts'
import { excerpt, mentionsMe } from './mentions.ts'
import type { SessionPart, SignedIn } from './session.ts'
import { shortAddress } from './short-address.ts'

/** The setting, in the vault (a person's choice, as private as the rest of what the app keeps). */
const SETTING = 'web/notifications'
const settingSchema = z.object({ on: z.boolean() })

/**
 * A message older than this by its sender's clock notifies nobody: a catch-up after a day away brings hundreds,
 * which the unread counts and the Mentions view tell better than a burst of notifications.
 */
export const NOTIFY_WITHIN_MS = 5 * 60_000

/**
 * A message written this long before a catch-up began is still news: a catch-up also follows a connection that
 * dropped for a moment (a relay restarted, a network change), and a DM written in that moment came by it.
 */
export const NOTIFY_CATCH_UP_GRACE_MS = 60_000

/** A notification's text at most; the rest is in the app. */
const NOTIFY_TEXT_CHARS = 140

export type NotificationsState = 'off' | 'on' | 'blocked' | 'unsupported'

/**
 * Whether `entry`, just added to `view`, is news for wallet `me`: someone else's message, shown, in a DM or mentioning
 * `me`, written within {@link NOTIFY_WITHIN_MS} of `nowMs` — and, while a catch-up runs, since it began (less
 * {@link NOTIFY_CATCH_UP_GRACE_MS}): the backlog it brings tells nobody, but a message written meanwhile is news (a
 * page just opened catches up for seconds, and a mention sent then went untold). Where the person is looking is the
 * caller's to ask.
 */
export function isNews(
  entry: ChatEntry,
  view: Pick<ConversationView, 'kind' | 'catchingUp'>,
  me: string,
  nowMs: number,
): boolean {
  // A timer's line (`disappearing.ts`) is no message to be told of.
  if (entry.mine || entry.state !== 'ok' || entry.deleted === true || entry.notice !== undefined) return false
  if (view.kind !== 'dm' && !mentionsMe(entry, me)) return false
  const backlogBeforeMs = (view.catchingUp?.sinceMs ?? 0) - NOTIFY_CATCH_UP_GRACE_MS
  return entry.sentAtMs >= backlogBeforeMs && entry.sentAtMs >= nowMs - NOTIFY_WITHIN_MS
}

/**
 * Browser notifications for a message that mentions this wallet and for every direct message, once the person turns
 * them on (`setOn`: the browser's permission is asked then, never on load). None for the conversation open in a
 * focused tab, none for what a history catch-up brings that was written before it began. Shown through the service worker's registration (`showNotification`,
 * what an installed app uses), or a page `Notification` without one. It is all local: the text is decrypted here and
 * handed to the browser only; no push service or relay is involved. Dispatches `notifications:changed`.
 */
export class Notifications extends EventTarget implements SessionPart {
  readonly #conversations: Conversations
  #vault: Vault | undefined
  #me: string | undefined
  #on = false
  /** The conversation the app shows (`sc-app` says), if any. */
  #showing: string | undefined
  #problem: string | undefined

  constructor(conversations: Conversations) {
    super()
    this.#conversations = conversations
    conversations.addEventListener('message:added', (event) => {
      const { conversation, entry } = (event as CustomEvent<{ conversation: string; entry: ChatEntry }>).detail
      void this.#onAdded(conversation, entry)
    })
  }

  /** What the setting is now: `blocked` when on in the vault but the browser refuses (the person said no there). */
  get state(): NotificationsState {
    if (!('Notification' in globalThis)) return 'unsupported'
    if (Notification.permission === 'denied') return 'blocked'
    return this.#on && Notification.permission === 'granted' ? 'on' : 'off'
  }

  /** Why the last `setOn(true)` did not turn them on, if it did not. */
  get problem(): string | undefined {
    return this.#problem
  }

  async open(signedIn: SignedIn): Promise<void> {
    this.#vault = signedIn.vault
    this.#me = signedIn.address
    this.#on = (await signedIn.vault.getJson(SETTING, settingSchema).catch(() => undefined))?.on === true
    this.#changed()
  }

  async connected(): Promise<void> {}

  close(): void {
    this.#vault = undefined
    this.#me = undefined
    this.#on = false
    this.#showing = undefined
    this.#problem = undefined
    this.#changed()
  }

  /** The conversation shown, or none (another page of the app). */
  showing(id: string | undefined): void {
    this.#showing = id
  }

  /**
   * Turns notifications on (asking the browser's permission, from the click that called it) or off, and keeps the
   * choice in the vault. On stays off when the browser refuses: `problem` says why.
   */
  async setOn(on: boolean): Promise<void> {
    const vault = this.#vault
    if (vault === undefined) return
    this.#problem = undefined
    if (on) {
      if (!('Notification' in globalThis)) {
        this.#problem = 'This browser does not show notifications.'
        this.#changed()
        return
      }
      const permission = await Notification.requestPermission()
      if (permission !== 'granted') {
        this.#problem =
          permission === 'denied'
            ? 'The browser blocks notifications for this site: allow them in its site settings, then turn them on here.'
            : 'Notifications stay off: the browser did not get a yes.'
        this.#changed()
        return
      }
    }
    this.#on = on
    await vault.putJson(SETTING, { on })
    this.#changed()
  }

  /**
   * Rings for a call someone started (`calls.ts`): a notification, when they are on, unless the person is looking at
   * that conversation in a focused tab (the app shows the call there). Its click opens the conversation
   * (`notification-click.ts`: no message named), which shows the call with its Join buttons.
   */
  async ring(call: {
    conversation: string
    callId: string
    from: string
    video: boolean
    where: string | undefined
  }): Promise<void> {
    if (this.state !== 'on' || this.#me === undefined) return
    if (call.conversation === this.#showing && document.visibilityState === 'visible' && document.hasFocus()) return
    const kind = call.video ? 'video call' : 'call'
    const title =
      call.where === undefined
        ? `${shortAddress(call.from)} is calling you`
        : `${shortAddress(call.from)} started a ${kind} in # ${call.where}`
    await this.#show(title, {
      body: call.where === undefined ? `A ${kind}: open SecureChat to join.` : 'Open SecureChat to join.',
      tag: `call-${call.callId}`,
      data: { conversation: call.conversation },
    })
  }

  async #show(title: string, options: NotificationOptions): Promise<void> {
    try {
      const registration = await navigator.serviceWorker?.getRegistration()
      if (registration !== undefined) await registration.showNotification(title, options)
      else new Notification(title, options)
    } catch {
      // Refused by the browser meanwhile (permission taken back): the app shows it all the same.
    }
  }

  async #onAdded(conversation: string, entry: ChatEntry): Promise<void> {
    const me = this.#me
    const view = this.#conversations.get(conversation)
    if (this.state !== 'on' || me === undefined || view === undefined || !isNews(entry, view, me, Date.now())) return
    // The person is reading it: the message is in front of them.
    if (conversation === this.#showing && document.visibilityState === 'visible' && document.hasFocus()) return
    const from = shortAddress(entry.sender)
    const title = view.kind === 'dm' ? `${from} wrote to you` : `${from} mentioned you in # ${view.name}`
    const options: NotificationOptions = {
      body: excerpt(entry.text, NOTIFY_TEXT_CHARS),
      tag: entry.id,
      data: { conversation, message: entry.id },
    }
    await this.#show(title, options)
  }

  #changed(): void {
    this.dispatchEvent(new Event('notifications:changed'))
  }
}
