/**
 * Search in this device's own history, across its rooms and DMs, from its vault alone (`securechat search`, no
 * network): the index the device's client kept up to date as messages came (`search-indexer.ts`), built once from
 * every message state when the vault has none yet; the texts shown are read from the conversations of the results
 * only.
 */
import type { Vault } from '../vault/vault.ts'
import { SearchIndexer } from './search-indexer.ts'
import type { SearchHistoryOptions, SearchResult } from './vault-states.ts'

/** The messages matching every term of `query` (the last as a prefix), newest first. */
export async function searchHistory(
  vault: Vault,
  query: string,
  options: SearchHistoryOptions = {},
): Promise<SearchResult[]> {
  const indexer = await SearchIndexer.open(vault, options)
  return indexer.search(query, options)
}
