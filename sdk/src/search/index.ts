/**
 * `@securechat/sdk/search`: search in this device's own history across rooms and DMs, with an index kept only in
 * the encrypted vault and up to date as messages come (`search-indexer.ts`).
 */
export { type IndexedMessage, type SavedSearchIndex, SearchIndex, savedSearchIndexSchema } from './search-index.ts'
export {
  SEARCH_META_ENTRY,
  SEARCH_SHARD_PREFIX,
  SearchIndexer,
  type SearchIndexerOptions,
  type SearchIndexerStats,
} from './search-indexer.ts'
export { snippet } from './snippet.ts'
export { foldWord, queryMatcher, terms, type Word, words } from './terms.ts'
export { searchHistory } from './vault-search.ts'
export {
  type MessageText,
  readMessageTexts,
  type SearchConversation,
  type SearchHistoryOptions,
  type SearchResult,
} from './vault-states.ts'
