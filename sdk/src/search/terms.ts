/**
 * What a search matches on: the words of a text, each folded so that case and diacritics do not count — `Élan`,
 * `elan` and `ÉLAN` are one term. Unicode-aware: letters and digits of any script make words (`\p{L}`, `\p{N}`,
 * with their combining marks); everything else separates them. Scripts written without spaces (Chinese, Japanese,
 * Thai) make one term per run of letters, which a prefix query still finds from its start.
 */
import { MAX_SEARCH_TERM_CHARS } from '../constants.ts'

/** A word of a text: its folded term and where it stands in the text (UTF-16 offsets). */
export interface Word {
  term: string
  start: number
  end: number
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu
const MARKS = /\p{M}+/gu
const SEPARATORS = /[^\p{L}\p{N}]+/u

/**
 * The folded terms of one word: compatibility decomposition (NFKD: `ﬁ` is `fi`, `²` is `2`), marks dropped,
 * lowercase, cut at {@link MAX_SEARCH_TERM_CHARS}. A decomposition can split a word (`½` is `1⁄2`), hence a list.
 */
export function foldWord(word: string): string[] {
  return word
    .normalize('NFKD')
    .replace(MARKS, '')
    .toLowerCase()
    .split(SEPARATORS)
    .filter((term) => term.length > 0)
    .map((term) => [...term].slice(0, MAX_SEARCH_TERM_CHARS).join(''))
}

/** Every word of `text` with its position, in order (repeats included). */
export function words(text: string): Word[] {
  const found: Word[] = []
  for (const match of text.matchAll(WORD)) {
    for (const term of foldWord(match[0])) found.push({ term, start: match.index, end: match.index + match[0].length })
  }
  return found
}

/** The distinct terms of `text`, in the order they first appear. */
export function terms(text: string): string[] {
  return [...new Set(words(text).map((word) => word.term))]
}

/**
 * Whether a word's term matches `query` as the index matches it (`SearchIndex.query`): one of its terms whole, or
 * its last as a prefix, as one types. What the snippets cut around and mark.
 */
export function queryMatcher(query: string): (term: string) => boolean {
  const wanted = terms(query)
  const last = wanted.pop()
  return (term) => wanted.includes(term) || (last !== undefined && term.startsWith(last))
}
