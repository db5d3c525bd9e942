import { afterEach, describe, expect, it } from 'vitest'
import { createNodeLogger } from './log.ts'

describe('createNodeLogger', () => {
  afterEach(() => {
    delete process.env.SECURECHAT_LOG_LEVEL
  })

  it('behavior: SECURECHAT_LOG_LEVEL overrides a command’s own level', () => {
    process.env.SECURECHAT_LOG_LEVEL = 'debug'
    expect(createNodeLogger({ json: false, level: 'warn' }).root.level).toBe('debug')
    delete process.env.SECURECHAT_LOG_LEVEL
    expect(createNodeLogger({ json: false, level: 'warn' }).root.level).toBe('warn')
  })

  it('behavior: an unknown level is refused by name, with the levels to use', () => {
    process.env.SECURECHAT_LOG_LEVEL = 'verbose'
    let thrown: unknown
    try {
      createNodeLogger({ json: false })
    } catch (err) {
      thrown = err
    }
    expect(thrown).toMatchObject({
      message: 'SECURECHAT_LOG_LEVEL is "verbose"',
      hint: expect.stringMatching(/^use one of trace, debug/),
    })
  })
})
