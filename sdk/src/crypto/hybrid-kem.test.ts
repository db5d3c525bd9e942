import { describe, expect, it } from 'vitest'
import { hybridDecapsulate, hybridEncapsulate } from './hybrid-kem.ts'
import { generateDeviceKeys } from './key-bundle.ts'

const binding = { senderId: '12D3KooWAlice', recipientId: '12D3KooWBob', context: 'sender-key:room-1' }

async function parties() {
  const [alice, bob, mallory] = await Promise.all([
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
  ])
  return { alice, bob, mallory }
}

describe('hybrid X25519 + ML-KEM-768 (X-Wing) channel', () => {
  it('behavior: both sides derive the same key and transcript hash; each encapsulation is fresh', async () => {
    const { alice, bob } = await parties()
    const sent = await hybridEncapsulate({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
    })
    const received = await hybridDecapsulate({
      ...binding,
      recipientIdentityKey: bob.identityKey,
      recipientKemKey: bob.kemKey,
      senderIdentityKey: alice.identityKey.publicKey,
      cipherText: sent.cipherText,
    })
    expect(received.sharedKey).toEqual(sent.sharedKey)
    expect(received.transcriptHash).toEqual(sent.transcriptHash)
    const again = await hybridEncapsulate({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
    })
    expect(again.sharedKey).not.toEqual(sent.sharedKey)
  })
})
