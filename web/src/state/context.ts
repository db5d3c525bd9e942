import { createContext } from '@lit/context'
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { ChatSession } from './chat-session.ts'

/** The signed-in session, provided by `<sc-app>` to every component below it. */
export const sessionContext = createContext<ChatSession | undefined>(Symbol('securechat-session'))

/** Re-renders its host whenever the session reports a change. */
export class SessionController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  #session: ChatSession | undefined
  readonly #onChange = (): void => this.#host.requestUpdate()

  constructor(host: ReactiveControllerHost) {
    this.#host = host
    host.addController(this)
  }

  set session(session: ChatSession | undefined) {
    if (session === this.#session) return
    this.#session?.removeEventListener('change', this.#onChange)
    this.#session = session
    session?.addEventListener('change', this.#onChange)
    this.#host.requestUpdate()
  }

  hostDisconnected(): void {
    this.#session?.removeEventListener('change', this.#onChange)
  }

  hostConnected(): void {
    this.#session?.addEventListener('change', this.#onChange)
  }
}
