import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'

/** Whether `text` is a multiaddr libp2p can read (`/ip4/203.0.113.5/tcp/4001/ws/p2p/12D3Koo…`). */
export function isMultiaddr(text: string): boolean {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}

/** A multiaddr as invites, settings and flags carry it: checked where it comes in, not at the first dial. */
export const multiaddrTextSchema = z
  .string()
  .min(1)
  .max(512)
  .refine(isMultiaddr, { message: 'not a multiaddr (an address like /ip4/203.0.113.5/tcp/4001/ws)' })
