import { describe, expect, it } from 'vitest'
import { snippetParts } from './search-snippet.ts'

describe('snippetParts', () => {
  it('behavior: marks the words the query matched — whole terms, the last as a prefix, case and accents folded', () => {
    expect(snippetParts('The Café said héllo, then hello again', 'cafe hel')).toEqual([
      { text: 'The ', hit: false },
      { text: 'Café', hit: true },
      { text: ' said ', hit: false },
      { text: 'héllo', hit: true },
      { text: ', then ', hit: false },
      { text: 'hello', hit: true },
      { text: ' again', hit: false },
    ])
    // "caf" is not the last term: only a whole word matches it.
    expect(snippetParts('café', 'caf x')).toEqual([{ text: 'café', hit: false }])
    expect(snippetParts('no match here', '')).toEqual([{ text: 'no match here', hit: false }])
  })

  it('security: markup in a text is text — the parts are strings for text nodes, never HTML', () => {
    const parts = snippetParts('<img src=x onerror=alert(1)> quokka', 'quokka')
    expect(parts).toEqual([
      { text: '<img src=x onerror=alert(1)> ', hit: false },
      { text: 'quokka', hit: true },
    ])
  })
})
