import { SecureChatError } from '@securechat/sdk/errors'

/** The readable message of any failure, with the sdk's hint when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof SecureChatError) return err.hint === undefined ? err.message : `${err.message} — ${err.hint}`
  if (err instanceof Error) return err.message
  return String(err)
}
