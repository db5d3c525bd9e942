import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { walletSigner } from '../identity/signer.ts'
import type { Address, RoomManifest, RoomMember } from '../types.ts'
import { describeRole, type MemberSource, memberList } from './member-list.ts'
import { createModerationEvent, type ModerationAction } from './moderation-event.ts'
import { ModerationLog } from './moderation-log.ts'

const ROOM = 'a'.repeat(64)
const [owner, heir, mod, member] = [0, 1, 2, 3].map(() => new Wallet(Wallet.createRandom().privateKey)) as [
  Wallet,
  Wallet,
  Wallet,
  Wallet,
]

const here = (wallet: Wallet, peerId: string): RoomMember => ({
  address: wallet.address as Address,
  peerId,
  lastSeenMs: 1_000,
})

function source(moderation?: ModerationLog): MemberSource {
  return {
    manifest: { manifest: { owner: owner.address, access: { type: 'open' } } as unknown as RoomManifest },
    ...(moderation === undefined ? {} : { moderation }),
    members: () => [here(owner, 'p-owner'), here(heir, 'p-heir'), here(mod, 'p-mod'), here(member, 'p-member')],
    away: () => [],
  }
}

async function act(log: ModerationLog, by: Wallet, action: ModerationAction, target: Wallet): Promise<void> {
  const event = await createModerationEvent({
    signer: walletSigner({ type: 'eoa', signer: by }),
    room: ROOM,
    prev: log.head,
    action,
    target: target.address,
  })
  expect(log.add(event)).toMatchObject({ status: 'applied' })
}

describe('memberList', () => {
  it("behavior: roles are the moderation log's — a moderator shows, and after a transfer the new owner, not the manifest's", async () => {
    const log = new ModerationLog({ roomId: ROOM, owner: owner.address })
    const rolesOf = async (): Promise<Record<string, string[]>> =>
      Object.fromEntries((await memberList(source(log))).map((entry) => [entry.address, entry.roles.map(describeRole)]))
    expect(await rolesOf()).toEqual({
      [owner.address]: ['owner'],
      [heir.address]: [],
      [mod.address]: [],
      [member.address]: [],
    })
    await act(log, owner, 'mod-add', mod)
    await act(log, owner, 'owner-transfer', heir)
    expect(await rolesOf()).toEqual({
      [owner.address]: [],
      [heir.address]: ['owner'],
      [mod.address]: ['moderator'],
      [member.address]: [],
    })
  })

  it("behavior: without a moderation log, the manifest's owner is the owner", async () => {
    const list = await memberList(source())
    expect(list.find((entry) => entry.address === owner.address)?.roles).toEqual([{ kind: 'owner' }])
    expect(list.find((entry) => entry.address === mod.address)?.roles).toEqual([])
  })
})
