import { describe, expect, it } from 'vitest'
import { LatePlacement } from './late-placement.ts'

type Entry = { id: string }
type Arrival = [id: string, before: string | undefined, deps: string[]]

function list(arrivals: Arrival[]): string[] {
  const placement = new LatePlacement()
  const history: Entry[] = []
  for (const [id, before, deps] of arrivals) placement.place(history, { id }, before, deps)
  return history.map((e) => e.id)
}

describe('late placement: a conversation list in the order its messages were written', () => {
  it('behavior: in order, each goes last', () => {
    expect(
      list([
        ['1', undefined, []],
        ['2', undefined, ['1']],
        ['3', undefined, ['2']],
      ]),
    ).toEqual(['1', '2', '3'])
  })

  it('behavior: a late one goes before the message that named it (CI showed "1, 3, 2")', () => {
    expect(
      list([
        ['1', undefined, []],
        ['3', undefined, ['2']],
        ['2', '3', ['1']],
      ]),
    ).toEqual(['1', '2', '3'])
  })

  it('behavior: a catch-up run oldest first, only its last named by a shown message: the whole run goes above it', () => {
    expect(
      list([
        ['1', undefined, []],
        ['5', undefined, ['4']],
        ['2', undefined, ['1']],
        ['3', undefined, ['2']],
        ['4', '5', ['3']],
      ]),
    ).toEqual(['1', '2', '3', '4', '5'])
  })

  it('behavior: a long run, each naming the three before it, delivered after the message that names its last (CI: 866–869, 862–865, …)', () => {
    const arrivals: Arrival[] = [['0', undefined, []]]
    const names = (n: number): string[] => [n - 3, n - 2, n - 1].filter((i) => i >= 0).map(String)
    arrivals.push(['70', undefined, names(70)])
    for (let n = 1; n < 70; n += 1) arrivals.push([String(n), n >= 67 ? '70' : undefined, names(n)])
    expect(list(arrivals)).toEqual(Array.from({ length: 71 }, (_, i) => String(i)))
  })

  it('behavior: two late ones handed over newest first go above the newer one shown (CI showed "2, 1, 3" after a failover)', () => {
    // 3 decrypted at once; 2 and 1, held for their sender's key, were handed over after it, 2 first. The sdk places
    // both before 3 (3 named them first); 2, shown above 3, names 1 too: 1 goes above 2.
    expect(
      list([
        ['0', undefined, []],
        ['3', undefined, ['0', '1', '2']],
        ['2', '3', ['0', '1']],
        ['1', '3', ['0']],
      ]),
    ).toEqual(['0', '1', '2', '3'])
  })

  it('behavior: a message that names old ones but came in order stays where it came (no sort by clock)', () => {
    expect(
      list([
        ['1', undefined, []],
        ['2', undefined, ['1']],
        ['back', undefined, ['1']],
      ]),
    ).toEqual(['1', '2', 'back'])
  })

  it('security: names that form a cycle (a hostile DM sender picks its ids) end, and lose no message', () => {
    const result = list([
      ['a', undefined, ['b']],
      ['b', undefined, ['a']],
      ['c', 'a', ['a', 'b']],
    ])
    expect(result.sort()).toEqual(['a', 'b', 'c'])
  })

  it('behavior: a place not shown (its message dropped off the list) puts the late one last', () => {
    expect(
      list([
        ['1', undefined, []],
        ['2', 'gone', []],
      ]),
    ).toEqual(['1', '2'])
  })
})
