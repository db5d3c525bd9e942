/**
 * Everything behind sign-in: the sdk (through ChatSession), the relay's config and the chat
 * views. `<sc-app>` imports this module dynamically, so the shell and its sign-in button render
 * while this far larger part is still downloading and compiling.
 */
import './components/sc-chat-view.ts'
import './components/sc-conversation-list.ts'
import './components/sc-create-room.ts'
import './components/sc-join-room.ts'
import './components/sc-new-dm.ts'
import { loadConfig } from './config.ts'
import { ChatSession } from './state/chat-session.ts'

/** A signed-out session on the config of the relay that served the app (or its last one). */
export async function startSession(signal?: AbortSignal): Promise<ChatSession> {
  return new ChatSession(await loadConfig(signal))
}
