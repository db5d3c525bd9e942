import { describeError as describeAnyError } from '@securechat/sdk/errors'

/** The readable message of any failure, with the sdk's hint when it has one: the sdk's describer, for a person. */
export function describeError(err: unknown): string {
  return describeAnyError(err, { for: 'person' })
}
