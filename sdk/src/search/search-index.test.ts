import { describe, expect, it } from 'vitest'
import { MAX_SEARCH_TERM_CHARS, MAX_SEARCH_TERMS_PER_MESSAGE } from '../constants.ts'
import { type IndexedMessage, SearchIndex, savedSearchIndexSchema } from './search-index.ts'
import { snippet } from './snippet.ts'
import { terms } from './terms.ts'

const id = (n: number): string => n.toString(16).padStart(64, '0')
const ROOM = `room:${'a'.repeat(64)}`
const DM = 'dm:0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const message = (n: number, conversation = ROOM, version = n): IndexedMessage => ({
  conversation,
  id: id(n),
  version: id(version),
  sentAtMs: 1_000 + n,
})
const ids = (found: IndexedMessage[]): string[] => found.map((m) => m.id)

describe('search terms', () => {
  it('behavior: case, diacritics and compatibility forms fold; any script makes words; the rest separates', () => {
    expect(terms('Élan, ÉCOLE naïve — Straße ﬁne ２０２６!')).toEqual([
      'elan',
      'ecole',
      'naive',
      'straße',
      'fine',
      '2026',
    ])
    expect(terms('Ὀδυσσεύς ПРИВЕТ мир')).toEqual(['οδυσσευς', 'привет', 'мир'])
    expect(terms('東京タワー و مرحبا')).toEqual(['東京タワー', 'و', 'مرحبا'])
    // Combining marks typed apart fold like precomposed letters.
    expect(terms('e\u0301cole')).toEqual(terms('école'))
    expect(terms('a-b_c.d')).toEqual(['a', 'b', 'c', 'd'])
    expect(terms('  ...  ')).toEqual([])
  })

  it('bound: a word longer than MAX_SEARCH_TERM_CHARS is kept by its start', () => {
    const [term] = terms('x'.repeat(MAX_SEARCH_TERM_CHARS + 10))
    expect(term).toBe('x'.repeat(MAX_SEARCH_TERM_CHARS))
  })
})

describe('SearchIndex', () => {
  it('behavior: every term must match, the last as a prefix; newest first; one conversation when asked', () => {
    const index = new SearchIndex()
    index.set(message(1), 'See you tomorrow at the café')
    index.set(message(2), 'Seeing the CAFE tomorrow')
    index.set(message(3, DM), 'tomorrow then')
    expect(ids(index.query('see tom'))).toEqual([id(1)])
    expect(ids(index.query('cafe TOMORROW'))).toEqual([id(2), id(1)])
    expect(ids(index.query('tomorrow'))).toEqual([id(3), id(2), id(1)])
    expect(ids(index.query('tomorrow', { conversation: DM }))).toEqual([id(3)])
    expect(ids(index.query('tomorrow', { limit: 1 }))).toEqual([id(3)])
    expect(index.query('see nothing')).toEqual([])
    expect(index.query(' ,;')).toEqual([])
  })

  it('behavior: an edit replaces the words, a delete takes them out — of the index and of what it saves', () => {
    const index = new SearchIndex()
    index.set(message(1), 'original wording')
    index.set(message(2), 'kept words')
    index.set(message(1, ROOM, 9), 'edited wording')
    expect(index.query('original')).toEqual([])
    expect(index.query('edited')).toEqual([message(1, ROOM, 9)])
    expect(index.get(ROOM, id(1))?.version).toBe(id(9))
    index.remove(ROOM, id(1))
    expect(index.query('wording')).toEqual([])
    const saved = JSON.stringify(index.serialize())
    expect(saved).not.toContain('wording')
    expect(saved).not.toContain('original')
    expect(saved).toContain('kept')
  })

  it('behavior: what it saves loads back, the same', () => {
    const index = new SearchIndex()
    index.set(message(1), 'alpha beta')
    index.set(message(2, DM), 'beta gamma')
    const loaded = new SearchIndex({
      saved: savedSearchIndexSchema.parse(JSON.parse(JSON.stringify(index.serialize()))),
    })
    expect(ids(loaded.query('beta'))).toEqual([id(2), id(1)])
    expect(loaded.serialize()).toEqual(index.serialize())
  })

  it('bound: the newest maxMessages stay; a message indexes at most MAX_SEARCH_TERMS_PER_MESSAGE terms', () => {
    const index = new SearchIndex({ maxMessages: 3 })
    for (const n of [5, 1, 4, 2, 3]) index.set(message(n), `common word${n}`)
    expect(ids(index.query('common'))).toEqual([id(5), id(4), id(3)])
    expect(index.query('word1')).toEqual([])
    expect(index.size).toBe(3)

    const many = Array.from({ length: MAX_SEARCH_TERMS_PER_MESSAGE + 5 }, (_, n) => `w${n}`).join(' ')
    index.set(message(9), many)
    expect(index.termsOf(ROOM, id(9))).toHaveLength(MAX_SEARCH_TERMS_PER_MESSAGE)
    const saved = index.serialize().messages.find(([, messageId]) => messageId === id(9))
    expect(saved?.[4].split(' ')).toHaveLength(MAX_SEARCH_TERMS_PER_MESSAGE)
    expect(ids(index.query(`w${MAX_SEARCH_TERMS_PER_MESSAGE - 1}`))).toEqual([id(9)])
    expect(index.query(`w${MAX_SEARCH_TERMS_PER_MESSAGE}`)).toEqual([])
  })
})

describe('snippet', () => {
  it('behavior: shows the text around the first matching word, on one line, marked where cut', () => {
    expect(snippet('short\nnote', 'note')).toBe('short note')
    const long = `${'lead '.repeat(40)}the Café is here ${'tail '.repeat(40)}`
    const shown = snippet(long, 'cafe')
    expect(shown).toContain('Café is here')
    expect(shown.startsWith('…')).toBe(true)
    expect(shown.endsWith('…')).toBe(true)
  })
})
