/**
 * Everything behind sign-in: the sdk (through the session, conversations and anchoring state), the
 * relay's config and the chat views. `<sc-app>` imports this module dynamically, so the shell and
 * its sign-in button render while this far larger part is still downloading and compiling.
 */
import './components/sc-chat-view.ts'
import './components/sc-conversation-list.ts'
import './components/sc-create-room.ts'
import './components/sc-join-room.ts'
import './components/sc-new-dm.ts'
import { loadConfig } from './config.ts'
import { Anchoring } from './state/anchoring.ts'
import { Conversations } from './state/conversations.ts'
import { Session } from './state/session.ts'

/** The app's state, each part with its own context and change event. */
export interface AppState {
  session: Session
  conversations: Conversations
  anchoring: Anchoring
}

/** A signed-out session on the config of the relay that served the app (or its last one). */
export async function startSession(signal?: AbortSignal): Promise<AppState> {
  const config = await loadConfig(signal)
  const session = new Session(config)
  const conversations = new Conversations(session)
  const anchoring = new Anchoring(config, conversations)
  session.attach(conversations, anchoring)
  return { session, conversations, anchoring }
}
