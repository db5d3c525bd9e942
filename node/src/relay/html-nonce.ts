/**
 * Puts a CSP nonce on the tags of an HTML page that need one: every `<script>`, every
 * `<link rel="modulepreload">`, and Vite's `<meta property="csp-nonce">` when the page has it.
 *
 * The page is parsed once into a template (the text between the places where a nonce goes), so a
 * response only joins strings. The scan follows the HTML tokenizer where it matters: comments,
 * doctypes and bogus comments, quoted and unquoted attribute values, and raw text elements
 * (`<script>`, `<style>`, `<textarea>`, `<title>`, …), so a `<script` written inside any of those
 * is text and gets nothing. Where a rule is subtle (CDATA, script data escapes), the scan errs
 * toward giving no nonce: a tag missed is blocked by the CSP, never text turned into a script.
 */

/** A page split at the places where ` nonce="…"` goes. */
export interface NonceTemplate {
  readonly parts: readonly string[]
  /** Tags that get the nonce. */
  readonly count: number
}

/** Elements whose content is text up to their end tag. `plaintext` has no end tag at all. */
const RAW_TEXT = new Set(['script', 'style', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript', 'textarea', 'title'])

const WHITESPACE = new Set(['\t', '\n', '\f', '\r', ' '])

interface Attribute {
  name: string
  value: string
  start: number
  end: number
}

interface Tag {
  name: string
  /** Index just after the tag name: where the nonce attribute goes. */
  nameEnd: number
  attributes: Attribute[]
  /** Index just after the closing `>` (or the end of the page, for a tag that never closes). */
  end: number
}

export function parseNonceTemplate(html: string): NonceTemplate {
  const parts: string[] = []
  let current = ''
  /** Start of the text not yet copied to `current`. */
  let copied = 0
  let i = 0
  while (i < html.length) {
    const lt = html.indexOf('<', i)
    if (lt === -1) break
    const next = html[lt + 1] ?? ''
    if (html.startsWith('<!--', lt)) {
      i = commentEnd(html, lt)
    } else if (html.startsWith('<![CDATA[', lt)) {
      // CDATA is only CDATA in SVG and MathML; elsewhere it is a bogus comment up to `>`. Skipping
      // to `]]>` may skip markup, which then gets no nonce: the safe way to be wrong.
      const end = html.indexOf(']]>', lt)
      i = end === -1 ? html.length : end + 3
    } else if (next === '!' || next === '?') {
      i = upTo(html, '>', lt + 2)
    } else if (next === '/') {
      if (isAsciiAlpha(html[lt + 2])) i = parseTag(html, lt + 1).end
      else i = upTo(html, '>', lt + 2)
    } else if (isAsciiAlpha(next)) {
      const tag = parseTag(html, lt)
      if (wantsNonce(tag)) {
        current += html.slice(copied, tag.nameEnd)
        parts.push(current)
        // Any nonce the page already has (Vite's `html.cspNonce` placeholder) goes: ours is the only one.
        current = ''
        let from = tag.nameEnd
        for (const attribute of tag.attributes) {
          if (attribute.name !== 'nonce') continue
          current += html.slice(from, attribute.start)
          from = attribute.end
        }
        current += html.slice(from, tag.end)
        copied = tag.end
      }
      i = tag.end
      if (tag.name === 'plaintext') break
      if (RAW_TEXT.has(tag.name)) i = rawTextEnd(html, tag.name, i)
    } else {
      i = lt + 1
    }
  }
  current += html.slice(copied)
  parts.push(current)
  return { parts, count: parts.length - 1 }
}

/** The page with `nonce` on every tag of the template. `nonce` must be base64 (it goes inside double quotes). */
export function renderWithNonce(template: NonceTemplate, nonce: string): string {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(nonce)) throw new RangeError(`a nonce must be base64, got ${nonce}`)
  return template.parts.join(` nonce="${nonce}"`)
}

function wantsNonce(tag: Tag): boolean {
  if (tag.name === 'script') return true
  // Browsers keep the first of two attributes with the same name.
  const attribute = (name: string): string | undefined => tag.attributes.find((a) => a.name === name)?.value
  if (tag.name === 'link') return tokens(attribute('rel')).includes('modulepreload')
  if (tag.name === 'meta') return attribute('property') === 'csp-nonce'
  return false
}

function tokens(value: string | undefined): string[] {
  return (value ?? '')
    .toLowerCase()
    .split(/[\t\n\f\r ]+/)
    .filter(Boolean)
}

/** Parses the tag whose `<` (or `/` of `</`) is at `start`. */
function parseTag(html: string, start: number): Tag {
  let i = start + 1
  while (i < html.length && !WHITESPACE.has(html[i]!) && html[i] !== '/' && html[i] !== '>') i++
  const name = html.slice(start + 1, i).toLowerCase()
  const nameEnd = i
  const attributes: Attribute[] = []
  for (;;) {
    while (i < html.length && (WHITESPACE.has(html[i]!) || html[i] === '/')) i++
    if (i >= html.length) return { name, nameEnd, attributes, end: html.length }
    if (html[i] === '>') return { name, nameEnd, attributes, end: i + 1 }
    const attributeStart = i
    // A name may begin with `=` (a parse error, but then part of the name).
    i++
    while (i < html.length && !WHITESPACE.has(html[i]!) && !'/>='.includes(html[i]!)) i++
    const attributeName = html.slice(attributeStart, i).toLowerCase()
    let j = i
    while (j < html.length && WHITESPACE.has(html[j]!)) j++
    let value = ''
    if (html[j] === '=') {
      j++
      while (j < html.length && WHITESPACE.has(html[j]!)) j++
      const quote = html[j]
      if (quote === '"' || quote === "'") {
        const close = html.indexOf(quote, j + 1)
        const end = close === -1 ? html.length : close
        value = html.slice(j + 1, end)
        i = Math.min(html.length, end + 1)
      } else {
        const valueStart = j
        while (j < html.length && !WHITESPACE.has(html[j]!) && html[j] !== '>') j++
        value = html.slice(valueStart, j)
        i = j
      }
    }
    attributes.push({ name: attributeName, value, start: attributeStart, end: i })
  }
}

function commentEnd(html: string, start: number): number {
  // `<!-->` and `<!--->` are whole (empty) comments.
  if (html.startsWith('<!-->', start)) return start + 5
  if (html.startsWith('<!--->', start)) return start + 6
  const end = html.indexOf('-->', start + 4)
  const bang = html.indexOf('--!>', start + 4)
  const first = [end === -1 ? Infinity : end + 3, bang === -1 ? Infinity : bang + 4].reduce((a, b) => Math.min(a, b))
  return first === Infinity ? html.length : first
}

/** The index where the end tag of raw text element `name` starts (its content is skipped), or the end of the page. */
function rawTextEnd(html: string, name: string, from: number): number {
  const pattern = new RegExp(`</${name}[\\t\\n\\f\\r />]`, 'gi')
  pattern.lastIndex = from
  const match = pattern.exec(html)
  return match === null ? html.length : match.index
}

function upTo(html: string, char: string, from: number): number {
  const end = html.indexOf(char, from)
  return end === -1 ? html.length : end + 1
}

function isAsciiAlpha(char: string | undefined): boolean {
  return char !== undefined && /^[A-Za-z]$/.test(char)
}
