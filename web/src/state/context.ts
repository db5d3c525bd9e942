import { createContext } from '@lit/context'
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { Anchoring } from './anchoring.ts'
import type { Calls } from './calls.ts'
import type { Conversations } from './conversations.ts'
import type { Files } from './files.ts'
import type { Notifications } from './notifications.ts'
import type { Session } from './session.ts'
import type { Signals } from './signals.ts'

/** The wallet, vault and network of this tab, provided by `<sc-app>` to every component below it. */
export const sessionContext = createContext<Session | undefined>(Symbol('securechat-session'))
/** The signed-in wallet's rooms and DMs with their histories. */
export const conversationsContext = createContext<Conversations | undefined>(Symbol('securechat-conversations'))
/** Files shared and fetched: shares, downloads and previews with their progress. */
export const filesContext = createContext<Files | undefined>(Symbol('securechat-files'))
/** Anchor marks of the open room, and anchoring from the wallet. */
export const anchoringContext = createContext<Anchoring | undefined>(Symbol('securechat-anchoring'))
/** Browser notifications for mentions and DMs: the setting, and which conversation is shown. */
export const notificationsContext = createContext<Notifications | undefined>(Symbol('securechat-notifications'))
/** Voice and video calls: the one this tab is in, and those going on in its conversations. */
export const callsContext = createContext<Calls | undefined>(Symbol('securechat-calls'))
/** Read receipts and typing indicators, and whether they are on. */
export const signalsContext = createContext<Signals | undefined>(Symbol('securechat-signals'))

/** Re-renders its host whenever its {@link target} dispatches `eventName` (`session:changed` …). */
export class ChangeController<T extends EventTarget> implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #eventName: string
  #target: T | undefined
  readonly #onChange = (): void => this.#host.requestUpdate()

  constructor(host: ReactiveControllerHost, eventName: string) {
    this.#host = host
    this.#eventName = eventName
    host.addController(this)
  }

  set target(target: T | undefined) {
    if (target === this.#target) return
    this.#target?.removeEventListener(this.#eventName, this.#onChange)
    this.#target = target
    target?.addEventListener(this.#eventName, this.#onChange)
    this.#host.requestUpdate()
  }

  hostDisconnected(): void {
    this.#target?.removeEventListener(this.#eventName, this.#onChange)
  }

  hostConnected(): void {
    this.#target?.addEventListener(this.#eventName, this.#onChange)
  }
}
