import { queryMatcher, words } from '@securechat/sdk/search'

/** A run of a snippet: a word the query matched (`hit`, drawn marked) or the text between. */
export interface SnippetPart {
  text: string
  hit: boolean
}

/**
 * `snippet` cut into the words `query` matches — the way the index matched them: whole terms, the last as a prefix,
 * case and accents folded — and the text between, for lit to draw as text nodes and `<mark>`s (no HTML path).
 */
export function snippetParts(snippet: string, query: string): SnippetPart[] {
  const matches = queryMatcher(query)
  const parts: SnippetPart[] = []
  let at = 0
  for (const word of words(snippet)) {
    // A word that folds to several terms (`½`) is one run, marked once.
    if (word.start < at) continue
    if (!matches(word.term)) continue
    if (word.start > at) parts.push({ text: snippet.slice(at, word.start), hit: false })
    parts.push({ text: snippet.slice(word.start, word.end), hit: true })
    at = word.end
  }
  if (at < snippet.length) parts.push({ text: snippet.slice(at), hit: false })
  return parts
}
