/** `0x1234…abcd`: enough to tell wallets apart at a glance; the full address is in the title. */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}
