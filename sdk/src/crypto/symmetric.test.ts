import { describe, expect, it } from 'vitest'
import * as browser from './symmetric.browser.ts'
import * as node from './symmetric.node.ts'

const bytes = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)

describe('symmetric twins', () => {
  it('behavior: the browser and Node twins give the same hashes and open what the other sealed', async () => {
    const key = bytes(32, 1)
    const nonce = bytes(12, 2)
    const ad = bytes(40, 3)
    const plaintext = bytes(1_000, 4)
    expect(browser.sha256(plaintext)).toEqual(node.sha256(plaintext))
    expect(browser.sha256Hex(plaintext)).toBe(node.sha256Hex(plaintext))
    expect(node.sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(browser.hmacSha256(key, plaintext)).toEqual(node.hmacSha256(key, plaintext))
    expect(browser.hkdfSha256(key, new Uint8Array(0), ad, 44)).toEqual(node.hkdfSha256(key, new Uint8Array(0), ad, 44))
    const sealed = await browser.sealRaw(key, nonce, plaintext, ad)
    expect(sealed).toEqual(await node.sealRaw(key, nonce, plaintext, ad))
    expect(await node.openRaw(key, nonce, sealed, ad)).toEqual(plaintext)
    expect(await browser.openRaw(key, nonce, sealed, ad)).toEqual(plaintext)
  })

  it('error: both twins refuse a sealed message whose associated data changed', async () => {
    const key = bytes(32, 5)
    const nonce = bytes(12, 6)
    const sealed = await node.sealRaw(key, nonce, bytes(64, 7), bytes(8, 8))
    await expect(browser.openRaw(key, nonce, sealed, bytes(8, 9))).rejects.toThrow()
    await expect(node.openRaw(key, nonce, sealed, bytes(8, 9))).rejects.toThrow()
  })
})
