import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createPeerScoreParams,
  type PeerScoreParams,
  validatePeerScoreParams,
  validatePeerScoreThresholds,
} from '@libp2p/gossipsub/score'
import { describe, expect, it } from 'vitest'
import { ROOM_TOPIC_PREFIX } from '../constants.ts'
import { DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX } from '../dm/constants.ts'
import { createSecureChatLibp2p } from './libp2p.ts'
import { CHAT_TOPIC_SCORE_PARAMS, SCORE_THRESHOLDS, scoreParams } from './scoring.ts'

describe('peer scoring', () => {
  it('behavior: the parameters and thresholds pass gossipsub’s own validation, with and without a colocation threshold', () => {
    for (const init of [{}, { colocationThreshold: 20, colocationWhitelist: ['10.0.0.1'] }]) {
      const params = createPeerScoreParams({ ...scoreParams(init), topics: { t: CHAT_TOPIC_SCORE_PARAMS } })
      expect(() => validatePeerScoreParams(params)).not.toThrow()
    }
    expect(() => validatePeerScoreThresholds(SCORE_THRESHOLDS)).not.toThrow()
  })

  it('behavior: no colocation penalty by default; an operator threshold turns it on with its whitelist', () => {
    expect(scoreParams().IPColocationFactorWeight).toBe(0)
    const set = scoreParams({ colocationThreshold: 20, colocationWhitelist: ['10.0.0.1'] })
    expect(set.IPColocationFactorWeight).toBeLessThan(0)
    expect(set.IPColocationFactorThreshold).toBe(20)
    expect([...(set.IPColocationFactorWhitelist ?? [])]).toEqual(['10.0.0.1'])
  })

  it('error: a negative or fractional colocation threshold', () => {
    expect(() => scoreParams({ colocationThreshold: -1 })).toThrow(/colocationThreshold/)
    expect(() => scoreParams({ colocationThreshold: 1.5 })).toThrow(/colocationThreshold/)
  })

  it('behavior: every room and DM topic of a SecureChat node is scored, other topics are not', async () => {
    const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
    try {
      const { topics } = (libp2p.services.pubsub as unknown as { score: { params: PeerScoreParams } }).score.params
      for (const prefix of [ROOM_TOPIC_PREFIX, DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX]) {
        expect(topics[`${prefix}${'ab'.repeat(32)}`]).toBe(CHAT_TOPIC_SCORE_PARAMS)
      }
      expect(topics['/other/topic']).toBeUndefined()
    } finally {
      await libp2p.stop()
    }
  })
})
