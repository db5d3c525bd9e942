/**
 * Which of the relay's addresses browsers can dial, and the IP arithmetic behind it (also the HTTP rate limiter's and
 * the libp2p side's per-IP limits').
 */
import { isIP } from 'node:net'

/**
 * The WebSocket addresses of `multiaddrs`, each ending in `/p2p/<peerId>`: what browsers can dial. When some are
 * `wss://` (`/tls/ws`, `/wss`: the relay's own TLS or its proxy's), only those: a page served over HTTPS may not
 * open a plain `ws://` connection.
 */
export function webSocketAddresses(multiaddrs: readonly string[], peerId: string): string[] {
  const all = multiaddrs.filter((address) => /\/ws(\/|$)/.test(address) || isSecureWebSocketAddress(address))
  const secure = all.filter(isSecureWebSocketAddress)
  return (secure.length > 0 ? secure : all).map((address) =>
    address.includes('/p2p/') ? address : `${address}/p2p/${peerId}`,
  )
}

/** Whether an address is a secure WebSocket one (`/tls/ws`, `/tls/sni/<host>/ws` or `/wss`): `wss://`. */
export function isSecureWebSocketAddress(address: string): boolean {
  return /\/(wss|tls(\/sni\/[^/]+)?\/ws)(\/|$)/.test(address)
}

/**
 * Whether a browser with libp2p's default connection gater would refuse `address`: loopback,
 * private (RFC 1918, RFC 4193), link-local and unspecified IPs, and `localhost`.
 */
export function isPrivateMultiaddr(address: string): boolean {
  const match = /^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\/([^/]+)/.exec(address)
  const kind = match?.[1]
  const host = match?.[2] ?? ''
  if (kind === undefined) return false
  if (kind.startsWith('dns')) return host === 'localhost' || host.endsWith('.localhost')
  if (kind === 'ip4') {
    const [a = 0, b = 0] = host.split('.').map(Number)
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168)
    )
  }
  const groups = expandIPv6(host).map((group) => Number.parseInt(group, 16))
  const first = groups[0] ?? 0
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6)
    return isPrivateMultiaddr(`/ip4/${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`)
  }
  const unspecifiedOrLoopback = groups.slice(0, 7).every((g) => g === 0) && (groups[7] ?? 0) <= 1
  return unspecifiedOrLoopback || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80
}

/** The eight groups of an IPv6 address, as hex strings. */
export function expandIPv6(address: string): string[] {
  let text = address.split('%', 1)[0]!
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (embedded !== null) {
    const [a = 0, b = 0, c = 0, d = 0] = embedded[1]!.split('.').map(Number)
    text = `${text.slice(0, embedded.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  if (tail === undefined) return left
  const right = tail === '' ? [] : tail.split(':')
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
}

/** One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 in full lower-case groups without leading zeros. */
export function canonicalIp(ip: string): string {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7)
  if (isIP(ip) !== 6) return ip
  return expandIPv6(ip)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')
}

/**
 * What per-client limits count one client by: its IP, and for IPv6 its /64 (one host usually has a whole /64, so
 * counting single IPv6 addresses would give one machine 2^64 clients).
 */
export function clientAddressKey(ip: string): string {
  const canonical = canonicalIp(ip)
  if (isIP(canonical) === 6) return `${expandIPv6(canonical).slice(0, 4).join(':')}::/64`
  return canonical
}
