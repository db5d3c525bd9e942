import { describe, expect, it } from 'vitest'
import { MAX_MENTIONS } from './constants.ts'
import { dmEnvelopeSchema } from './dm/wire.ts'
import { InvalidInputError } from './errors.ts'
import {
  acceptMentions,
  mentionListSchema,
  mentionsAddress,
  mentionsIn,
  mentionsToSend,
  splitMentions,
} from './mentions.ts'
import { MessageStates, savedMessageStatesSchema } from './message-state.ts'
import { envelopeSchema } from './rooms/wire.ts'
import type { Address, MessageChange } from './types.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address
const wallet = (n: number): string => `0x${n.toString(16).padStart(40, '0')}`
const id = (n: number): string => n.toString(16).padStart(64, '0')

describe('mentions', () => {
  it('behavior: finds each @0x… once, checksummed, in the order written; nothing else counts', () => {
    const text = `hi @${BOB.toLowerCase()} and @${ALICE}, again @${BOB}. mail a@${ALICE} @${ALICE}ff 0x${'1'.repeat(40)}`
    expect(mentionsIn(text)).toEqual([BOB, ALICE])
    expect(mentionsIn('no one here, not even @0x123')).toEqual([])
    // A mixed case with a wrong checksum is still the same wallet.
    const wrongCase = `${ALICE.slice(0, 3)}${ALICE.slice(3).toUpperCase().replace('X', 'x')}`.replace(/^0X/, '0x')
    expect(mentionsIn(`@${wrongCase}`)).toEqual([ALICE])
    expect(mentionsAddress(mentionsIn(`@${BOB}`), BOB.toLowerCase())).toBe(true)
    expect(mentionsAddress([], BOB)).toBe(false)
  })

  it('behavior: a sender lists nothing for a text without mentions, and is refused past the bound', () => {
    expect(mentionsToSend('plain')).toBeUndefined()
    expect(mentionsToSend(`@${ALICE}`)).toEqual([ALICE])
    const many = Array.from({ length: MAX_MENTIONS + 1 }, (_, i) => `@${wallet(i + 1)}`).join(' ')
    expect(() => mentionsToSend(many)).toThrow(InvalidInputError)
  })

  it('security: a receiver keeps only the mentions its text shows, and says why it dropped the rest', () => {
    const body = `ping @${ALICE}`
    const { mentions, dropped } = acceptMentions([ALICE.toLowerCase(), BOB, ALICE], body)
    expect(mentions).toEqual([ALICE])
    expect(dropped).toEqual([
      { address: BOB, reason: 'its text does not show this mention (@0x…)' },
      { address: ALICE, reason: 'listed twice' },
    ])
    expect(acceptMentions(undefined, body)).toEqual({ mentions: [], dropped: [] })
  })

  it('security: envelopes refuse an oversize or forged list with a reason, in rooms and DMs', () => {
    const tooMany = Array.from({ length: MAX_MENTIONS + 1 }, (_, i) => wallet(i + 1))
    const room = envelopeSchema.safeParse({ v: 1, kind: 'text', body: 'x', mentions: tooMany })
    expect(room.success).toBe(false)
    expect(room.error?.issues[0]?.message).toBe(`a message mentions at most ${MAX_MENTIONS} members`)
    const forged = envelopeSchema.safeParse({ v: 1, kind: 'edit', target: id(1), body: 'x', mentions: ['<b>me</b>'] })
    expect(forged.error?.issues[0]?.message).toBe('a mention is a wallet address (0x and 40 hex digits)')
    const dm = { v: 1, id: '0'.repeat(32), sentAtMs: 1, kind: 'text', body: `@${ALICE}` }
    expect(dmEnvelopeSchema.safeParse({ ...dm, mentions: [ALICE] }).success).toBe(true)
    expect(dmEnvelopeSchema.safeParse({ ...dm, mentions: tooMany }).success).toBe(false)
    expect(dmEnvelopeSchema.safeParse({ ...dm, mentions: 'everyone' }).success).toBe(false)
    expect(mentionListSchema.safeParse([ALICE, BOB]).success).toBe(true)
  })

  it('behavior: an edit replaces the mentions, a delete drops them, and the vault keeps them per version', () => {
    const states = new MessageStates()
    states.text({
      id: id(1),
      sender: ALICE,
      senderPeerId: 'p',
      sentAtMs: 1,
      body: `@${BOB} look`,
      parentId: undefined,
      mentions: [BOB],
    })
    expect(states.get(id(1))?.mentions).toEqual([BOB])
    const edit = (n: number, body: string, mentions?: Address[]): MessageChange => ({
      kind: 'edit',
      id: id(n),
      target: id(1),
      sender: ALICE,
      senderPeerId: 'p',
      sentAtMs: n,
      body,
      ...(mentions === undefined ? {} : { mentions }),
    })
    states.change(edit(10, 'look (no one)'))
    expect(states.get(id(1))?.mentions).toEqual([])
    expect(states.get(id(1))?.versions[0]?.mentions).toEqual([BOB])
    states.change(edit(11, `@${ALICE} @${BOB}`, [ALICE, BOB]))
    const saved = savedMessageStatesSchema.parse(JSON.parse(JSON.stringify(states.serialize())))
    const reloaded = new MessageStates({ saved })
    expect(reloaded.get(id(1))?.mentions).toEqual([ALICE, BOB])
    reloaded.change({ kind: 'delete', id: id(12), target: id(1), sender: ALICE, senderPeerId: 'p', sentAtMs: 12 })
    expect(reloaded.get(id(1))?.mentions).toEqual([])
    // An edit parked before its message keeps its mentions through the vault.
    const early = new MessageStates()
    early.change({ ...edit(13, `@${BOB}!`, [BOB]), target: id(2) })
    const parked = new MessageStates({ saved: savedMessageStatesSchema.parse(early.serialize()) })
    parked.text({ id: id(2), sender: ALICE, senderPeerId: 'p', sentAtMs: 1, body: 'x', parentId: undefined })
    expect(parked.get(id(2))?.mentions).toEqual([BOB])
  })
})

describe('splitMentions', () => {
  it('behavior: cuts a text at its mentions and keeps every character', () => {
    const text = `hi @${BOB.toLowerCase()}, and a@${ALICE}`
    const parts = splitMentions(text)
    expect(parts).toEqual(['hi ', { mention: `@${BOB.toLowerCase()}`, address: BOB }, `, and a@${ALICE}`])
    expect(parts.map((p) => (typeof p === 'string' ? p : p.mention)).join('')).toBe(text)
    expect(splitMentions('plain')).toEqual(['plain'])
  })
})
