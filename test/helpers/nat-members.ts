/**
 * Members of one room in one process, for test/one-address.test.ts, which runs it inside a network namespace so
 * that the relay sees every member come from one address. Each member is a real sdk client (its own PeerId and
 * wallet). Usage: `node nat-members.ts <count> <relay multiaddr> <invite>`. Prints JSON lines on stdout —
 * `{ ready }` once every member joined, `{ member, id, text }` for each message a member receives (`{ member, id,
 * undecryptable }` for one it cannot read, yet), `{ sent }` — and
 * reads JSON lines on stdin: `{ send: text }` sends from this process's first member, `{ stop: true }` stops.
 */
import { createInterface } from 'node:readline'
import { Wallet } from 'ethers'
import { type Device, startDevice } from './device.ts'

const [countArg, bootstrap, invite] = process.argv.slice(2)
const count = Number(countArg)
if (!Number.isInteger(count) || count < 1 || bootstrap === undefined || invite === undefined) {
  console.error('usage: nat-members.ts <count> <relay multiaddr> <invite>')
  process.exit(2)
}

const print = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`)

const devices: Device[] = []
const rooms = await Promise.all(
  Array.from({ length: count }, async (_, member) => {
    // A relay busy with fifty handshakes may time some out: the sdk's start dials again (`bootstrap-dial.ts`).
    const device = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [bootstrap] })
    devices.push(device)
    const room = await device.client.joinRoom(invite)
    room.addEventListener('message:received', ({ detail }) => print({ member, id: detail.id, text: detail.text }))
    room.addEventListener('message:undecryptable', ({ detail }) =>
      print({ member, id: detail.id, undecryptable: detail.reason }),
    )
    await room.waitForPeers()
    return room
  }),
)
print({ ready: count })

const stop = async (): Promise<void> => {
  await Promise.allSettled(devices.map((device) => device.close()))
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { send?: string; stop?: boolean }
  if (command.stop === true) await stop()
  if (command.send !== undefined) {
    await rooms[0]!.send(command.send)
    print({ sent: command.send })
  }
}
await stop()
