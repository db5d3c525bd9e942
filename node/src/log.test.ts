import { afterEach, describe, expect, it } from 'vitest'
import { createNodeLogger, readableLine } from './log.ts'

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

  it('behavior: without --json a line is the time, the level, the message and its fields, not JSON', () => {
    const line = JSON.stringify({
      level: 40,
      time: '2026-12-07T19:41:21.811Z',
      ns: 'securechat:node:relay',
      room: '6f88',
      hint: 'start the relay with --rpc',
      counts: { rooms: 2 },
      msg: 'a token-gated room passes through this relay',
    })
    expect(readableLine(`${line}\n`)).toBe(
      '19:41:21 WARN  a token-gated room passes through this relay  room=6f88 hint="start the relay with --rpc" counts={"rooms":2}\n',
    )
    expect(readableLine('not json\n')).toBe('not json\n')
  })
})
