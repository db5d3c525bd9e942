import { SEARCH_SNIPPET_CHARS } from '../constants.ts'
import { queryMatcher, words } from './terms.ts'

/**
 * About {@link SEARCH_SNIPPET_CHARS} characters of `text` around the first word `query` matches (the way
 * `SearchIndex.query` does: whole terms, the last as a prefix), on one line, `…` where it was cut.
 */
export function snippet(text: string, query: string): string {
  const matches = queryMatcher(query)
  const hit = words(text).find(({ term }) => matches(term))
  const center = hit === undefined ? 0 : hit.start
  const chars = [...text.slice(0, center)].length
  const all = [...text]
  const from = Math.max(0, Math.min(chars - Math.floor(SEARCH_SNIPPET_CHARS / 3), all.length - SEARCH_SNIPPET_CHARS))
  const to = Math.min(all.length, from + SEARCH_SNIPPET_CHARS)
  const line = all.slice(from, to).join('').replace(/\s+/gu, ' ').trim()
  return `${from > 0 ? '…' : ''}${line}${to < all.length ? '…' : ''}`
}
