/**
 * A store that lies, for tests: a libp2p node that answers `/securechat/store/1.0.0` queries from an honest
 * relay's store, with each record kept, left out, altered (its data changed, its id kept), invented (changed
 * data under a matching id, so only the signature gives it away) or sent twice, as `lie` says. Its pages go on
 * where the honest store's do (its cursor). Fetches by id are refused, unless `fetchWhen` is given.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import {
  decodeHistoryRequest,
  encodeRecordsResponse,
  fetchHistory,
  type HistoryRecord,
  MAX_HISTORY_REQUEST_BYTES,
  queryHistory,
  STORE_PROTOCOL,
} from '@securechat/sdk/history'
import { messageIdOf } from '@securechat/sdk/rooms'

export type Lie = 'omit' | 'alter' | 'invent' | 'double' | undefined

export interface LyingStoreOptions {
  /** `ws`: listens on WebSockets, as browsers reach relays (default `tcp`). */
  transport?: 'tcp' | 'ws'
  /** Answers fetches by id too, honestly, each once this resolves (a store slow to answer, as long as a test likes). */
  fetchWhen?: () => Promise<void>
}

/** Starts the liar in front of the store at `honest`; resolves to its address and how to stop it. */
export async function startLyingStore(
  honest: string,
  lie: (record: HistoryRecord) => Lie,
  options: LyingStoreOptions = {},
): Promise<{ address: string; stop: () => Promise<void> }> {
  const ws = options.transport === 'ws'
  const liar = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: [ws ? '/ip4/127.0.0.1/tcp/0/ws' : '/ip4/127.0.0.1/tcp/0'],
    transports: [ws ? webSockets() : tcp()],
  })
  await liar.handle(STORE_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_REQUEST_BYTES })
    const decoded = decodeHistoryRequest((await lp.read()).subarray())
    if (!decoded.ok) throw new Error('unexpected request')
    if (decoded.request.type === 'fetch') {
      if (options.fetchWhen === undefined) throw new Error('unexpected request')
      await options.fetchWhen()
      const { type: _, ...fetch } = decoded.request
      const found = await fetchHistory(liar, multiaddr(honest), fetch)
      await lp.write(encodeRecordsResponse({ records: found.records.map(({ record }) => record), more: false }).bytes)
      await stream.close()
      return
    }
    const { type: _, ...query } = decoded.request
    const answer = await queryHistory(liar, multiaddr(honest), query)
    const records: HistoryRecord[] = []
    for (const { record } of answer.records) {
      const told = lie(record)
      if (told === 'omit') continue
      if (told === 'alter' || told === 'invent') {
        const data = record.data.slice()
        data[data.length - 3]! ^= 1
        records.push({ ...record, data, id: told === 'invent' ? messageIdOf(data) : record.id })
        if (told === 'alter') continue
      }
      records.push(record)
      if (told === 'double') records.push(record)
    }
    const cursor = answer.cursor
    await lp.write(
      encodeRecordsResponse({
        records,
        more: cursor !== undefined,
        ...(cursor === undefined ? {} : { cursorAfter: () => cursor }),
      }).bytes,
    )
    await stream.close()
  })
  return {
    address: liar.getMultiaddrs()[0]!.toString(),
    stop: async () => {
      await liar.stop()
    },
  }
}
