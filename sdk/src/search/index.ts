/**
 * `@securechat/sdk/search`: search in this device's own history across rooms and DMs, with an index kept only in
 * the encrypted vault (`vault-search.ts`).
 */
export { type IndexedMessage, type SavedSearchIndex, SearchIndex, savedSearchIndexSchema } from './search-index.ts'
export { snippet } from './snippet.ts'
export { foldWord, terms, type Word, words } from './terms.ts'
export {
  SEARCH_INDEX_ENTRY,
  type SearchConversation,
  type SearchHistoryOptions,
  type SearchResult,
  searchHistory,
  updateSearchIndex,
} from './vault-search.ts'
