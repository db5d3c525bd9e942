import { describe, expect, it } from 'vitest'
import { makeThumbnail } from '../../../sdk/src/files/thumbnail.ts'
import type { FileManifest } from '../../../sdk/src/types.ts'
import { png } from '../../../test/helpers/images.ts'
import { fileToJson } from './room-client.ts'

describe('a shared file as the CLI prints it', () => {
  it('behavior: no key, and of the thumbnail only its type and size, never its picture', () => {
    const thumbnail = makeThumbnail('image/png', png(40, 30))!
    const file: FileManifest = {
      v: 1,
      cid: 'bafkreigcdnyl2rcmmtuuk6hhf7bzas4lf47qfchs4chvde6ciegt62sbfm',
      size: 123_456,
      type: 'image/png',
      name: 'beach.png',
      key: 'A'.repeat(43),
      sha256: 'ab'.repeat(32),
      thumbnail,
    }
    const printed = fileToJson(file)
    expect(printed).toEqual({
      name: 'beach.png',
      size: 123_456,
      type: 'image/png',
      cid: file.cid,
      sha256: file.sha256,
      thumbnail: { type: 'image/png', width: 40, height: 30 },
    })
    expect(JSON.stringify(printed)).not.toContain(thumbnail.data.slice(0, 32))
    const { thumbnail: _, ...without } = file
    expect(fileToJson(without)).not.toHaveProperty('thumbnail')
  })
})
