import { describe, expect, it } from 'vitest'
import { describeError, InvalidInputError, SecureChatError } from './errors.ts'

describe('describeError', () => {
  it('behavior: for a log, the name, the message and what lay under it (an ethers shortMessage over its message)', () => {
    const cause = Object.assign(new Error('could not coalesce error (long text)'), {
      shortMessage: 'missing revert data',
    })
    expect(describeError(new SecureChatError('anchoring failed', { cause }))).toBe(
      'SecureChatError: anchoring failed: missing revert data',
    )
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad')
  })

  it('behavior: for a person, the message and the hint, without names or causes', () => {
    const err = new InvalidInputError('chainId is missing', { hint: 'pass chainId', cause: new Error('under') })
    expect(describeError(err, { for: 'person' })).toBe('chainId is missing — pass chainId')
    expect(describeError(new Error('plain'), { for: 'person' })).toBe('plain')
  })

  it('behavior: what is not an Error still reads as a line (an EIP-1193 wallet error is a plain object)', () => {
    expect(describeError({ code: 4001, message: 'User rejected the request.' })).toBe('User rejected the request.')
    expect(describeError({ code: 4001, message: 'User rejected the request.' }, { for: 'person' })).toBe(
      'User rejected the request.',
    )
    expect(describeError('just a string')).toBe('just a string')
    expect(describeError(undefined)).toBe('undefined')
  })
})
