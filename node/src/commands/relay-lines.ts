import type { RelayPool } from '@securechat/sdk/client'

/**
 * Says on stderr when the last relay goes and when one is back: a listener left with no relay heard nothing and said
 * nothing, and looked the same as a quiet room. Status, not data: `--json` output on stdout stays messages only.
 */
export function reportRelayChanges(relays: RelayPool, write: (line: string) => void): void {
  relays.addEventListener('relay:lost', ({ detail }) => {
    if (detail.connected > 0) return
    write('! no relay reachable: nothing arrives until one is back; reconnecting\n')
  })
  relays.addEventListener('relay:connected', ({ detail }) => {
    if (detail.connected !== 1) return
    write(`* relay ${detail.peerId} reached again\n`)
  })
}
