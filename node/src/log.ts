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
    init.json
      ? pino.destination({ dest: 1, sync: true })
      : { write: (line: string) => void process.stderr.write(readableLine(line)) },
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

/**
 * A pino line as a person reads it: `19:41:21 INFO  peer subscribed to room  room=6f88… peer=12D3…` — the time, the
 * level, the message, then each field (quoted when it holds a space). What is not a pino line passes unchanged.
 */
export function readableLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const { level, time, msg, ns: _namespace, ...fields } = entry
  const label = typeof level === 'number' ? (pino.levels.labels[level] ?? String(level)) : String(level)
  const clock = typeof time === 'string' ? time.slice(11, 19) : ''
  const rest = Object.entries(fields)
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      return `${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : text}`
    })
    .join(' ')
  return `${clock} ${label.toUpperCase().padEnd(5)} ${String(msg ?? '')}${rest === '' ? '' : `  ${rest}`}\n`
}
