/**
 * The relays a browser can dial: WebSocket addresses that name their relay (`…/ws/p2p/<PeerId>`), once each.
 * Invites made by the CLI carry TCP addresses too, which no browser can dial.
 */
export function browserRelays(addresses: readonly string[]): string[] {
  return [...new Set(addresses.filter((address) => /\/(ws|wss|tls\/ws)\/p2p\/[^/]+$/.test(address)))]
}
