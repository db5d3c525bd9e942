/**
 * One logger shape for the sdk, injected into components. The sdk never prints: without a
 * logger, lines are dropped. The node package passes pino child loggers here.
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Creates a logger for a namespace such as `securechat:sdk:room`. */
export type LoggerFactory = (namespace: string) => Logger

const noop = (): void => {}
const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

export const silentLoggerFactory: LoggerFactory = () => silentLogger
