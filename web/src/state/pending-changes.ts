import type { MessageChangeRequest } from './outbox.ts'

/** What reactions, edits and deletes are sent to: a room, or a DM's conversation. */
export interface MessageTarget {
  react(id: string, emoji: string): Promise<unknown>
  unreact(id: string, emoji: string): Promise<unknown>
  edit(id: string, text: string): Promise<unknown>
  delete(id: string): Promise<unknown>
}

/**
 * Sends a reaction, edit or delete the outbox kept (`outbox.ts`). A room's that reached no neighbour throws: it is
 * tried again, like a message.
 */
export async function sendChange(target: MessageTarget, change: MessageChangeRequest): Promise<void> {
  const result =
    change.kind === 'react'
      ? await (change.remove ? target.unreact(change.target, change.emoji) : target.react(change.target, change.emoji))
      : change.kind === 'edit'
        ? await target.edit(change.target, change.text)
        : await target.delete(change.target)
  requireReached(result)
}

/**
 * A room's record handed to no neighbour (the sdk had one but scored it out) reached nobody: not sent, so this throws
 * and the outbox tries it again. A DM's result has no neighbours to count: it passes.
 */
export function requireReached(result: unknown): void {
  const recipients = (result as { delivery?: { recipients?: unknown[] } }).delivery?.recipients
  if (recipients !== undefined && recipients.length === 0) throw new Error('nobody in reach to hand it to yet')
}

/**
 * A change the network will never take — not one's own message to edit, not an emoji — found by the sdk before
 * sending: dropped from the outbox with why, not tried again (it would hold back the conversation's later ones).
 */
export function isRefusedForGood(err: unknown): boolean {
  return err instanceof Error && err.name === 'InvalidInputError'
}

/** "your reaction 👍", "your edit", "your delete": what a pending change is, for people. */
export function describeChange(change: MessageChangeRequest): string {
  if (change.kind === 'react') return change.remove ? `taking back ${change.emoji}` : `your reaction ${change.emoji}`
  return change.kind === 'edit' ? 'your edit' : 'your delete'
}
