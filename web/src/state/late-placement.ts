/**
 * Where a message goes in a conversation's list. The sdk says when one arrived late (`before`: the first message
 * delivered here that named it — gossip took another path, gap repair fetched it, a catch-up after a failover
 * brought it): it goes before that one, not last. What it names in turn (its `deps`) and is shown below it came
 * late too, and is raised above it, and so on up the chain: a catch-up delivers a run of missed messages oldest
 * first, and only the last of them is named by a message already shown.
 *
 * Nothing is sorted by clock: a member back from a long absence states a low Lamport clock in its first message,
 * which would jump up the list.
 */
import { setNewest } from '@securechat/sdk/bounded-map'
import { HISTORY_LIMIT } from './history-store.ts'

/** What each recent message named, by id: in memory only (a late arrival meets what was shown lately). */
const MAX_REMEMBERED_DEPS = 4 * HISTORY_LIMIT

export class LatePlacement {
  readonly #depsOf = new Map<string, readonly string[]>()

  /**
   * Puts `entry` into `history` (changed in place): before the message `before` when it is there, else last, and
   * above any message shown higher that names it; then raises what it names above it.
   *
   * `before` is the first message delivered that named it, not the first shown: another that named it too may have
   * come late itself and gone above that one. A failover's three messages, 3 handed over first and 2 and 1 after it
   * (held for their key), showed as 2, 1, 3: both were placed before 3, and 2 names 1.
   */
  place<T extends { id: string }>(history: T[], entry: T, before: string | undefined, deps: readonly string[]): void {
    if (deps.length > 0) setNewest(this.#depsOf, entry.id, deps, MAX_REMEMBERED_DEPS)
    const at = before === undefined ? -1 : history.findIndex((e) => e.id === before)
    if (at === -1) history.push(entry)
    else history.splice(at, 0, entry)
    this.#raise(history, entry.id)
    this.#raiseNamed(history, entry.id)
  }

  clear(): void {
    this.#depsOf.clear()
  }

  /**
   * What message `id` names, shown below a message that names it, goes just above the first such message; and so on
   * for what the raised ones name. (Just above `id` is not enough: the run a catch-up brings names itself, three
   * back each, and would come out in reversed blocks.)
   */
  #raiseNamed<T extends { id: string }>(history: T[], id: string): void {
    const visited = new Set<string>()
    const next = [id]
    // Each entry is looked at once: ids are hashes of records that name earlier ones, so no cycle — but a hostile DM
    // sender chooses its message ids.
    while (next.length > 0) {
      const current = next.shift()!
      if (visited.has(current)) continue
      visited.add(current)
      for (const dep of this.#depsOf.get(current) ?? []) {
        if (this.#raise(history, dep)) next.push(dep)
      }
    }
  }

  /** Moves message `id` just above the first message shown above it that names it; whether it moved. */
  #raise<T extends { id: string }>(history: T[], id: string): boolean {
    const at = history.findIndex((e) => e.id === id)
    if (at === -1) return false
    const namer = history.findIndex((e, i) => i < at && this.#depsOf.get(e.id)?.includes(id) === true)
    if (namer === -1) return false
    const [moved] = history.splice(at, 1)
    history.splice(namer, 0, moved!)
    return true
  }
}
