/**
 * The sdk's in-memory caches are Maps bounded by insertion order: the entry set longest ago goes first. Ground:
 * imports nothing.
 */

/** Deletes the oldest entries of `map` until it holds at most `max`. */
export function evictOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next()
    if (oldest.done === true) return
    map.delete(oldest.value)
  }
}

/** Sets `key` as the newest entry of `map` (moving it there when present), then bounds `map` to `max`. */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  evictOldest(map, max)
}
