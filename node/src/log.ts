import { InvalidInputError } from '@securechat/sdk/errors'
import type { Logger, LoggerFactory } from '@securechat/sdk/logger'
import { pino } from 'pino'

export interface NodeLoggerInit {
  /** One JSON object per line on stdout (for machines); otherwise short readable lines on stderr. */
  json: boolean
  /** The command's own level; `SECURECHAT_LOG_LEVEL` in the environment overrides it. */
  level?: string
}

/** pino's levels, and `silent` (nothing). */
const LEVELS = [...Object.keys(pino.levels.values), 'silent']

/**
 * The node package's logger: pino, namespaced like `securechat:node:relay`. `SECURECHAT_LOG_LEVEL` sets the level of
 * every command (`debug` to see why a record was not read, for a report), over the command's own.
 */
export function createNodeLogger(init: NodeLoggerInit): { root: pino.Logger; factory: LoggerFactory } {
  const level = process.env.SECURECHAT_LOG_LEVEL || init.level || 'info'
  if (!LEVELS.includes(level)) {
    throw new InvalidInputError(`SECURECHAT_LOG_LEVEL is ${JSON.stringify(level)}`, {
      hint: `use one of ${LEVELS.join(', ')}, or unset it`,
    })
  }
  const root = pino(
    { level, base: null, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: init.json ? 1 : 2, sync: true }),
  )
  const factory: LoggerFactory = (namespace) => {
    const child = root.child({ ns: namespace })
    const wrap =
      (level: 'debug' | 'info' | 'warn' | 'error'): Logger[typeof level] =>
      (msg, fields) =>
        fields === undefined ? child[level](msg) : child[level](fields, msg)
    return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') }
  }
  return { root, factory }
}
