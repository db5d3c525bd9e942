import type { Logger, LoggerFactory } from '@securechat/sdk/logger'
import { pino } from 'pino'

export interface NodeLoggerInit {
  /** One JSON object per line on stdout (for machines); otherwise short readable lines on stderr. */
  json: boolean
  level?: string
}

/** The node package's logger: pino, namespaced like `securechat:node:relay`. */
export function createNodeLogger(init: NodeLoggerInit): { root: pino.Logger; factory: LoggerFactory } {
  const root = pino(
    { level: init.level ?? 'info', base: null, timestamp: pino.stdTimeFunctions.isoTime },
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
