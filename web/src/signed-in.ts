/**
 * Everything behind sign-in: the sdk (through the session, conversations and anchoring state), the
 * relay's config and the chat views. `<sc-app>` imports this module dynamically, so the shell and
 * its sign-in button render while this far larger part is still downloading and compiling.
 */
import './components/sc-call.ts'
import './components/sc-chat-view.ts'
import './components/sc-conversation-list.ts'
import './components/sc-create-room.ts'
import './components/sc-join-room.ts'
import './components/sc-mentions.ts'
import './components/sc-new-dm.ts'
import './components/sc-search.ts'
import './components/sc-signal-settings.ts'
import { loadConfig } from './config.ts'
import { Anchoring } from './state/anchoring.ts'
import { Calls } from './state/calls.ts'
import { Conversations, inviteFromText } from './state/conversations.ts'
import { Files } from './state/files.ts'
import { Notifications } from './state/notifications.ts'
import { inviteSummary, requirementSentence } from './state/room-access.ts'
import { Session } from './state/session.ts'
import { Signals } from './state/signals.ts'

/** The app's state, each part with its own context and change event. */
export interface AppState {
  session: Session
  conversations: Conversations
  anchoring: Anchoring
  notifications: Notifications
  signals: Signals
  files: Files
  calls: Calls
}

/** A signed-out session on the config of the relay that served the app (or its last one). */
export async function startSession(signal?: AbortSignal): Promise<AppState> {
  const config = await loadConfig(signal)
  const session = new Session(config)
  const conversations = new Conversations(session)
  const anchoring = new Anchoring(config, conversations)
  const notifications = new Notifications(conversations)
  const signals = new Signals(conversations)
  const files = new Files(conversations)
  const calls = new Calls(config, conversations, notifications)
  session.attach(conversations, anchoring, notifications, signals, files, calls)
  return { session, conversations, anchoring, notifications, signals, files, calls }
}

/**
 * Which room the invite in `hash` (`#invite=…`) is for, and what it asks, for the sign-in page: an invite opened
 * before sign-in says what it leads to. Undefined when `hash` holds no readable invite.
 */
export function invitedTo(hash: string): { name: string; requirement: string | undefined } | undefined {
  if (!hash.startsWith('#invite=')) return undefined
  const summary = inviteSummary(inviteFromText(hash))
  if (summary === undefined) return undefined
  return { name: summary.name, requirement: summary.gate === undefined ? undefined : requirementSentence(summary.gate) }
}
