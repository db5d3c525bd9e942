import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_MESSAGE_VERSIONS } from './constants.ts'
import { dmEnvelopeSchema } from './dm/wire.ts'
import { isReaction, MessageStates, savedMessageStatesSchema, type TextArrival } from './message-state.ts'
import { envelopeSchema } from './rooms/wire.ts'
import type { Address, MessageChange } from './types.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address
const id = (n: number): string => n.toString(16).padStart(64, '0')

const text = (n: number, sender: Address, extra: Partial<TextArrival> = {}): TextArrival => ({
  id: id(n),
  sender,
  senderPeerId: `peer-${sender}`,
  sentAtMs: 1_000 + n,
  body: `text ${n}`,
  parentId: undefined,
  ...extra,
})

type Edit = Exclude<MessageChange, { kind: 'reply' }>
const change = (n: number, target: number, sender: Address, edit: Pick<Edit, 'kind'> & Partial<Edit>): MessageChange =>
  ({ id: id(n), target: id(target), sender, senderPeerId: 'p', sentAtMs: 2_000 + n, ...edit }) as MessageChange

describe('MessageStates', () => {
  it('behavior: reactions count wallets per emoji, and a removal takes one back', () => {
    const states = new MessageStates()
    states.text(text(1, ALICE))
    states.change(change(10, 1, ALICE, { kind: 'react', emoji: '👍', remove: false }))
    states.change(change(11, 1, BOB, { kind: 'react', emoji: '👍', remove: false }))
    states.change(change(12, 1, BOB, { kind: 'react', emoji: '🎉', remove: false }))
    // The same wallet again (another device) counts once.
    states.change(change(13, 1, BOB, { kind: 'react', emoji: '👍', remove: false }))
    expect(states.get(id(1))?.reactions).toEqual([
      { emoji: '👍', count: 2, by: [ALICE, BOB] },
      { emoji: '🎉', count: 1, by: [BOB] },
    ])
    states.change(change(14, 1, BOB, { kind: 'react', emoji: '👍', remove: true }))
    expect(states.get(id(1))?.reactions[0]).toEqual({ emoji: '👍', count: 1, by: [ALICE] })
  })

  it('behavior: an edit keeps every version; only the sender may edit or delete', () => {
    const states = new MessageStates()
    states.text(text(1, ALICE))
    expect(states.change(change(10, 1, BOB, { kind: 'edit', body: 'hijacked' }))).toMatchObject({ status: 'refused' })
    expect(states.change(change(11, 1, BOB, { kind: 'delete' }))).toMatchObject({ status: 'refused' })
    expect(states.change(change(12, 1, ALICE, { kind: 'edit', body: 'second' }))).toMatchObject({ status: 'applied' })
    const state = states.get(id(1))!
    expect(state).toMatchObject({ text: 'second', edited: true, deleted: false })
    expect(state.versions.map((v) => v.body)).toEqual(['text 1', 'second'])
    // The address's case does not matter: the wallet is the same.
    expect(states.change(change(13, 1, ALICE.toLowerCase() as Address, { kind: 'delete' }))).toMatchObject({
      status: 'applied',
    })
    expect(states.get(id(1))).toMatchObject({ text: undefined, versions: [], deleted: true, reactions: [] })
    expect(JSON.stringify(states.serialize())).not.toContain('second')
    expect(JSON.stringify(states.serialize())).not.toContain('text 1')
  })

  it('behavior: a file a message shares is kept through a save, in room and DM envelopes alike; a delete drops it, key and all', () => {
    const file = {
      v: 1 as const,
      cid: 'bafybeiahgldbbdqxrwvt35lfayetdmy4bekqrcuadi53gnts5ffbyrwrj4',
      size: 1,
      type: 'image/png',
      name: 'cat.png',
      key: 'A'.repeat(43),
      sha256: 'ab'.repeat(32),
    }
    expect(envelopeSchema.safeParse({ v: 1, kind: 'text', body: '', file }).success).toBe(true)
    expect(envelopeSchema.safeParse({ v: 1, kind: 'text', body: '', file: { ...file, name: '../x' } }).success).toBe(
      false,
    )
    expect(
      dmEnvelopeSchema.safeParse({ v: 1, id: 'a'.repeat(32), sentAtMs: 1, kind: 'text', body: 'look', file }).success,
    ).toBe(true)
    const states = new MessageStates()
    states.text(text(1, ALICE, { body: 'look', file }))
    const saved = savedMessageStatesSchema.parse(JSON.parse(JSON.stringify(states.serialize())))
    expect(new MessageStates({ saved }).get(id(1))).toMatchObject({ text: 'look', file })
    states.change(change(10, 1, ALICE, { kind: 'delete' }))
    expect(states.get(id(1))?.file).toBeUndefined()
    expect(JSON.stringify(states.serialize())).not.toContain(file.key)
  })

  it('behavior: changes to a message not here yet apply when it arrives, a delete first hides its text', () => {
    const states = new MessageStates()
    expect(states.change(change(10, 1, BOB, { kind: 'react', emoji: '👍', remove: false }))).toEqual({
      status: 'pending',
    })
    expect(states.change(change(11, 1, BOB, { kind: 'edit', body: 'not yours' }))).toEqual({ status: 'pending' })
    const { state, outcomes } = states.text(text(1, ALICE))
    expect(outcomes.map((o) => o.status)).toEqual(['applied', 'refused'])
    expect(state.reactions).toEqual([{ emoji: '👍', count: 1, by: [BOB] }])
    states.change(change(12, 2, BOB, { kind: 'delete' }))
    expect(states.text(text(2, BOB)).state).toMatchObject({ deleted: true, text: undefined })
    // Kept across a restart, as the vault holds them.
    states.change(change(13, 3, ALICE, { kind: 'edit', body: 'later' }))
    const saved = savedMessageStatesSchema.parse(JSON.parse(JSON.stringify(states.serialize())))
    const restarted = new MessageStates({ saved })
    expect(restarted.text(text(3, ALICE)).state.text).toBe('later')
    expect(restarted.get(id(2))?.deleted).toBe(true)
  })

  it("behavior: a moderator's removal deletes the message it names only if it names its author; saved, it stays removed", () => {
    const states = new MessageStates()
    states.text(text(1, ALICE))
    states.text(text(2, ALICE))
    // Naming the wrong author: the log checked the moderator outranks BOB, not ALICE.
    expect(states.change(change(20, 1, BOB, { kind: 'delete', author: BOB }))).toMatchObject({ status: 'refused' })
    const removed = states.change(change(21, 1, BOB, { kind: 'delete', author: ALICE }))
    expect(removed).toMatchObject({ status: 'applied', update: { message: { deleted: true, removedBy: BOB } } })
    expect(states.get(id(1))?.text).toBeUndefined()
    // Before its message arrives (a catch-up), it waits and applies; the vault keeps who removed it, not the text.
    states.change(change(22, 3, BOB, { kind: 'delete', author: ALICE }))
    states.text(text(3, ALICE))
    const saved = savedMessageStatesSchema.parse(JSON.parse(JSON.stringify(states.serialize())))
    expect(JSON.stringify(saved)).not.toContain('text 1')
    const again = new MessageStates({ saved })
    expect(again.get(id(1))).toMatchObject({ deleted: true, removedBy: BOB })
    expect(again.get(id(3))).toMatchObject({ deleted: true, removedBy: BOB })
    expect(again.get(id(2))).toMatchObject({ deleted: false, text: 'text 2' })
    expect(again.get(id(2))?.removedBy).toBeUndefined()
  })

  it('property: any delivery order of reactions and edits ends in the same state', () => {
    const changes: MessageChange[] = [
      change(10, 1, BOB, { kind: 'react', emoji: '👍', remove: false }),
      change(11, 1, BOB, { kind: 'react', emoji: '👍', remove: true }),
      change(12, 1, ALICE, { kind: 'react', emoji: '👍', remove: false }),
      change(13, 1, ALICE, { kind: 'edit', body: 'one' }),
      change(14, 1, ALICE, { kind: 'edit', body: 'two' }),
      change(15, 1, BOB, { kind: 'edit', body: 'refused' }),
    ]
    const inOrder = new MessageStates()
    inOrder.text(text(1, ALICE))
    for (const c of changes) inOrder.change(c)
    const expected = inOrder.get(id(1))
    fc.assert(
      fc.property(fc.shuffledSubarray([...changes.keys(), -1], { minLength: changes.length + 1 }), (order) => {
        const states = new MessageStates()
        for (const i of order) {
          if (i === -1) states.text(text(1, ALICE))
          else states.change(changes[i]!)
        }
        expect(states.get(id(1))).toEqual(expected)
      }),
    )
    expect(expected).toMatchObject({ text: 'two', reactions: [{ emoji: '👍', count: 1, by: [ALICE] }] })
  })

  it('behavior: a thread counts the replies to its root, replies to replies included, in any order', () => {
    const states = new MessageStates()
    states.text(text(3, BOB, { parentId: id(2) }))
    states.text(text(2, BOB, { parentId: id(1) }))
    const { outcomes } = states.text(text(1, ALICE))
    expect(outcomes).toEqual([])
    states.text(text(4, ALICE, { parentId: id(1) }))
    expect(states.get(id(1))?.thread).toEqual({ count: 3, last: { id: id(4), sender: ALICE, sentAtMs: 1_004 } })
    expect(states.thread(id(1)).map((m) => m.id)).toEqual([id(2), id(3), id(4)])
  })

  it('error: a version beyond MAX_MESSAGE_VERSIONS is refused', () => {
    const states = new MessageStates()
    states.text(text(1, ALICE))
    for (let n = 1; n < MAX_MESSAGE_VERSIONS; n++)
      states.change(change(100 + n, 1, ALICE, { kind: 'edit', body: `${n}` }))
    expect(states.change(change(999, 1, ALICE, { kind: 'edit', body: 'over' }))).toMatchObject({ status: 'refused' })
  })

  it('behavior: pending changes and messages are bounded, oldest first', () => {
    const states = new MessageStates({ maxMessages: 2, maxPending: 2 })
    for (let n = 1; n <= 3; n++) states.text(text(n, ALICE))
    expect(states.get(id(1))).toBeUndefined()
    for (let n = 10; n <= 12; n++) states.change(change(n, 50 + n, ALICE, { kind: 'delete' }))
    expect(states.serialize().pending.map((p) => p.id)).toEqual([id(11), id(12)])
  })
})

describe('reactions', () => {
  it('behavior: emoji and short reactions pass; text, spaces and controls do not', () => {
    for (const ok of ['👍', '👍🏽', '👨‍👩‍👧‍👦', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '🇫🇷', '+1', '❤️']) expect(isReaction(ok), ok).toBe(true)
    for (const bad of ['', 'hello', '👍 ', 'a\nb', '\u202e', '\u0000', '👍'.repeat(5), 'x'.repeat(65)]) {
      expect(isReaction(bad), JSON.stringify(bad)).toBe(false)
    }
  })

  it('error: envelopes with a bad reaction or target are malformed, rooms and DMs alike', () => {
    const target = id(1)
    expect(envelopeSchema.safeParse({ v: 1, kind: 'react', target, emoji: '👍' }).success).toBe(true)
    expect(envelopeSchema.safeParse({ v: 1, kind: 'react', target, emoji: 'a long text' }).success).toBe(false)
    expect(envelopeSchema.safeParse({ v: 1, kind: 'edit', target: 'x', body: 'b' }).success).toBe(false)
    expect(envelopeSchema.safeParse({ v: 1, kind: 'delete', target, extra: 1 }).success).toBe(false)
    const dm = { v: 1, id: '0'.repeat(32), sentAtMs: 1, target: '1'.repeat(32) }
    expect(dmEnvelopeSchema.safeParse({ ...dm, kind: 'delete' }).success).toBe(true)
    expect(dmEnvelopeSchema.safeParse({ ...dm, kind: 'react', emoji: '🎉', remove: true }).success).toBe(true)
    expect(dmEnvelopeSchema.safeParse({ ...dm, kind: 'react', emoji: '🎉', remove: false }).success).toBe(false)
    expect(dmEnvelopeSchema.safeParse({ ...dm, kind: 'edit', body: 'x'.repeat(20_000) }).success).toBe(false)
  })
})
