import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { IDENTIFY_WAIT_MS } from '../constants.ts'
import { libp2pHistorySource } from './catch-up.ts'
import { STORE_PROTOCOL } from './constants.ts'

/** Just what the source reads of a node: its connections, its peer store and `peer:identify`. */
function node(connected: PeerId[], protocols: Map<string, string[]>): Libp2p & EventTarget {
  return Object.assign(new EventTarget(), {
    getConnections: () => connected.map((remotePeer) => ({ remotePeer })),
    peerStore: {
      get: async (peer: PeerId) => {
        const known = protocols.get(peer.toString())
        if (known === undefined) throw new Error('not found')
        return { protocols: known }
      },
    },
  }) as unknown as Libp2p & EventTarget
}

const peerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

describe('libp2pHistorySource', () => {
  it('behavior: connected to nothing, peers() waits for the first relay that comes back and keeps history', async () => {
    const relay = await peerId()
    const connected: PeerId[] = []
    const protocols = new Map<string, string[]>()
    const libp2p = node(connected, protocols)
    const asked = libp2pHistorySource(libp2p).peers()
    setTimeout(() => {
      connected.push(relay)
      protocols.set(relay.toString(), [STORE_PROTOCOL])
      libp2p.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId: relay, protocols: [STORE_PROTOCOL] } }))
    }, 50)
    expect((await asked).map(String)).toEqual([relay.toString()])
  })

  it('behavior: connected to a relay that has not identified within IDENTIFY_WAIT_MS (a loaded machine), peers() still waits for it', async () => {
    const relay = await peerId()
    const protocols = new Map<string, string[]>()
    const libp2p = node([relay], protocols)
    const asked = libp2pHistorySource(libp2p).peers()
    setTimeout(() => {
      protocols.set(relay.toString(), [STORE_PROTOCOL])
      libp2p.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId: relay, protocols: [STORE_PROTOCOL] } }))
    }, IDENTIFY_WAIT_MS + 500)
    expect((await asked).map(String)).toEqual([relay.toString()])
  })

  it('behavior: connected only to relays that keep no history, peers() answers none at once', async () => {
    const relay = await peerId()
    const libp2p = node([relay], new Map([[relay.toString(), ['/meshsub/1.1.0']]]))
    expect(await libp2pHistorySource(libp2p).peers()).toEqual([])
  })
})
