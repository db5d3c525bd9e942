/**
 * The Markdown a message may use, parsed into a tree the view renders as DOM nodes (`message-body.ts`): never
 * HTML. A chat's subset, as Element and Discord read it: *emphasis*, **strong**, `code`, fenced code blocks,
 * > quotes, - and 1. lists, [links](https://…) and bare http(s) addresses. Everything else is text, as written:
 * HTML, images, headings, tables. Each line break the sender typed stays one.
 *
 * Links: only `http:` and `https:` (a `javascript:` or `data:` target stays text); the view opens them in a new
 * tab with `rel="noopener noreferrer"`.
 *
 * Bounds: a message is at most `MAX_TEXT_BYTES`; nesting deeper than {@link MAX_DEPTH} is text, and a delimiter
 * with no closing one is looked for once, so a hostile message costs linear time, not quadratic.
 */

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'break' }
  | { type: 'code'; text: string }
  | { type: 'em' | 'strong'; children: Inline[] }
  | { type: 'link'; href: string; children: Inline[] }

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'quote'; children: Block[] }
  | { type: 'list'; ordered: boolean; start: number; items: Inline[][] }

/** Quotes in quotes, emphasis in emphasis: deeper than this is shown as written. */
export const MAX_DEPTH = 4
/** Closing delimiters tried for one opening before it is taken as text. */
const MAX_CANDIDATES = 16

const FENCE = /^ {0,3}```/
const QUOTE = /^ {0,3}> ?/
const BULLET = /^ {0,3}[-*+] +(?=\S)/
const NUMBERED = /^ {0,3}(\d{1,9})[.)] +(?=\S)/
/** A line that continues the list item above it. */
const CONTINUATION = /^ {2,}(?=\S)/
const PUNCTUATION = /[!-/:-@[-`{-~]/
const AUTOLINK = /^https?:\/\/[^\s<>]+/i
/** Not part of a bare address at its end: "see https://example.org." */
const TRAILING = /[.,;:!?'"*_]+$/

/** The blocks of `text`, a message as its sender typed it. */
export function parseMarkdown(text: string): Block[] {
  return parseBlocks(text.replace(/\r\n?/g, '\n').split('\n'), 0)
}

function parseBlocks(lines: string[], depth: number): Block[] {
  const blocks: Block[] = []
  let paragraph: string[] = []
  const endParagraph = (): void => {
    if (paragraph.length > 0) blocks.push({ type: 'paragraph', children: parseLines(paragraph) })
    paragraph = []
  }
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (FENCE.test(line)) {
      const end = lines.findIndex((next, j) => j > i && FENCE.test(next))
      const body = lines.slice(i + 1, end === -1 ? lines.length : end)
      endParagraph()
      blocks.push({ type: 'code', text: body.join('\n') })
      i = end === -1 ? lines.length : end + 1
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      endParagraph()
      const quoted: string[] = []
      for (; i < lines.length && QUOTE.test(lines[i]!); i++) quoted.push(lines[i]!.replace(QUOTE, ''))
      blocks.push({ type: 'quote', children: parseBlocks(quoted, depth + 1) })
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      endParagraph()
      const ordered = !BULLET.test(line)
      const marker = ordered ? NUMBERED : BULLET
      const items: string[][] = []
      for (; i < lines.length; i++) {
        const next = lines[i]!
        if (marker.test(next)) items.push([next.replace(marker, '')])
        else if (CONTINUATION.test(next) && items.length > 0) items.at(-1)!.push(next.trim())
        else break
      }
      const start = ordered ? Number(NUMBERED.exec(line)![1]) : 1
      blocks.push({ type: 'list', ordered, start, items: items.map((item) => parseLines(item)) })
    } else if (line.trim() === '') {
      endParagraph()
      i++
    } else {
      paragraph.push(line)
      i++
    }
  }
  endParagraph()
  return blocks
}

/** Lines of one paragraph or list item: inline content with the sender's line breaks kept. */
function parseLines(lines: string[]): Inline[] {
  return new InlineParser(lines.join('\n')).parse()
}

/** Emphasis, strong, code, links in one paragraph; delimiters that never close are text. */
class InlineParser {
  readonly #text: string
  /** Delimiters known to have no closing one at or after a position: never looked for again from there. */
  readonly #unclosed = new Map<string, number>()

  constructor(text: string) {
    this.#text = text
  }

  parse(): Inline[] {
    return this.#inlines(0, this.#text.length, 0, true)
  }

  #inlines(from: number, to: number, depth: number, links: boolean): Inline[] {
    const text = this.#text
    const out: Inline[] = []
    let plain = ''
    const push = (node: Inline): void => {
      if (plain !== '') out.push({ type: 'text', text: plain })
      plain = ''
      out.push(node)
    }
    let i = from
    while (i < to) {
      const c = text[i]!
      if (c === '\\' && i + 1 < to && PUNCTUATION.test(text[i + 1]!)) {
        plain += text[i + 1]
        i += 2
        continue
      }
      if (c === '\n') {
        push({ type: 'break' })
        i++
        continue
      }
      if (c === '`') {
        const run = /^`+/.exec(text.slice(i, Math.min(to, i + 32)))![0]
        const close = this.#find(run, i + run.length, to, (at) => text[at + run.length] !== '`')
        if (close !== -1) {
          push({ type: 'code', text: text.slice(i + run.length, close) })
          i = close + run.length
        } else {
          plain += run
          i += run.length
        }
        continue
      }
      if ((c === '*' || c === '_') && depth < MAX_DEPTH) {
        const double = text[i + 1] === c
        const delimiter = double ? c + c : c
        const end = this.#emphasis(delimiter, i, to)
        if (end !== -1) {
          const children = this.#inlines(i + delimiter.length, end, depth + 1, links)
          push({ type: double ? 'strong' : 'em', children })
          i = end + delimiter.length
        } else {
          plain += delimiter
          i += delimiter.length
        }
        continue
      }
      if (c === '[' && links) {
        const link = this.#bracketLink(i, to, depth)
        if (link !== undefined) {
          push(link.node)
          i = link.end
          continue
        }
      }
      if ((c === 'h' || c === 'H') && links && (i === from || !/[\p{L}\p{N}]/u.test(text[i - 1]!))) {
        const bare = AUTOLINK.exec(text.slice(i, to))
        const address = bare === null ? undefined : trimAddress(bare[0])
        const href = address === undefined ? undefined : webLink(address)
        if (address !== undefined && href !== undefined) {
          push({ type: 'link', href, children: [{ type: 'text', text: address }] })
          i += address.length
          continue
        }
      }
      plain += c
      i++
    }
    if (plain !== '') out.push({ type: 'text', text: plain })
    return out
  }

  /**
   * Where emphasis opened at `at` with `delimiter` closes, or -1. It opens before a non-space and closes after
   * one; `_` only between words' edges, so snake_case stays text.
   */
  #emphasis(delimiter: string, at: number, to: number): number {
    const text = this.#text
    const inner = at + delimiter.length
    if (inner >= to || /\s/.test(text[inner]!)) return -1
    if (delimiter[0] === '_' && at > 0 && /[\p{L}\p{N}]/u.test(text[at - 1]!)) return -1
    return this.#find(delimiter, inner + 1, to, (close) => {
      if (/\s/.test(text[close - 1]!)) return false
      // `**` must not be taken for the closing `*` of emphasis, nor a longer run for `**`.
      if (text[close + delimiter.length] === delimiter[0]) return false
      if (delimiter.length === 1 && text[close - 1] === delimiter) return false
      const after = text[close + delimiter.length]
      return delimiter[0] !== '_' || after === undefined || !/[\p{L}\p{N}]/u.test(after)
    })
  }

  /** `[text](https://…)`: a link when the target is a web address, else undefined (the `[` is text). */
  #bracketLink(at: number, to: number, depth: number): { node: Inline; end: number } | undefined {
    const text = this.#text
    const close = this.#find('](', at + 1, to, () => true)
    if (close === -1) return undefined
    const end = text.indexOf(')', close + 2)
    if (end === -1 || end >= to) return undefined
    const target = text.slice(close + 2, end)
    const href = /\s/.test(target) ? undefined : webLink(target)
    if (href === undefined || close === at + 1) return undefined
    return { node: { type: 'link', href, children: this.#inlines(at + 1, close, depth + 1, false) }, end: end + 1 }
  }

  /**
   * The first `needle` in [from, to) that `accept`s, or -1. A needle found nowhere after a point is not looked
   * for again from there, and at most {@link MAX_CANDIDATES} are tried: `*a *a *a …` stays linear.
   */
  #find(needle: string, from: number, to: number, accept: (at: number) => boolean): number {
    const text = this.#text
    const none = this.#unclosed.get(needle)
    if (none !== undefined && from >= none) return -1
    let searched = from
    for (let tries = 0; tries < MAX_CANDIDATES; tries++) {
      const at = text.indexOf(needle, searched)
      if (at === -1) {
        this.#unclosed.set(needle, Math.min(searched, none ?? searched))
        return -1
      }
      if (at + needle.length > to) return -1
      if (accept(at)) return at
      searched = at + 1
    }
    return -1
  }
}

/** A bare address without the sentence's punctuation after it, and without a `)` it does not open. */
function trimAddress(address: string): string {
  let trimmed = address.replace(TRAILING, '')
  while (trimmed.endsWith(')') && count(trimmed, '(') < count(trimmed, ')')) trimmed = trimmed.slice(0, -1)
  return trimmed.replace(TRAILING, '')
}

function count(text: string, char: string): number {
  return text.split(char).length - 1
}

/** `target` as an absolute http(s) URL, or undefined: no other scheme becomes a link. */
export function webLink(target: string): string | undefined {
  if (!/^https?:\/\//i.test(target)) return undefined
  try {
    const url = new URL(target)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}
