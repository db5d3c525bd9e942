import { describeError as describeAnyError, ModeratedError } from '@securechat/sdk/errors'

/** The readable message of any failure, with the sdk's hint when it has one: the sdk's describer, for a person. */
export function describeError(err: unknown): string {
  return describeAnyError(err, { for: 'person' })
}

/**
 * Why a message or change waits, for the note beside it: as {@link describeError}, but a mute's end in the reader's
 * own date and time — the sdk's words give it in UTC (ISO 8601), as a terminal prints it.
 */
export function describeSendProblem(err: unknown): string {
  const untilMs = err instanceof ModeratedError ? err.details.untilMs : undefined
  if (typeof untilMs !== 'number') return describeError(err)
  const until = new Date(untilMs).toLocaleString()
  return `you are muted in this room until ${until} — wait until then, or ask a moderator to unmute you`
}
