import { readFileSync } from 'node:fs'
import { MAX_SFU_FEEDS } from '@securechat/sdk/calls'
import { SecureChatError } from '@securechat/sdk/errors'
import { isMultiaddr } from '@securechat/sdk/multiaddr-text'
import type { ModerationAction } from '@securechat/sdk/rooms'
import { Command, InvalidArgumentError, Option } from 'commander'
import { chat, history, listen, roomCreate, roomList, send } from './commands/chat.ts'
import { disappear } from './commands/disappear.ts'
import { dmSend, listenDm } from './commands/dm.ts'
import { getFile, sendFile } from './commands/files.ts'
import { members } from './commands/members.ts'
import { reactWrite, type WriteFlags, writeMessage } from './commands/message-kinds.ts'
import { moderate, roomLog } from './commands/moderation.ts'
import { type SearchFlags, search } from './commands/search.ts'
import { ConfigError } from './errors.ts'
import { SFU_JANUS_BIN, SFU_MAX_CALLS, SFU_MAX_PUBLISHERS, SFU_RTP_PORTS } from './relay/sfu/constants.ts'
import { DATA_DIR_HELP } from './vault.ts'

/** A message's text: `@0x…` in it is how the CLI mentions a member (the sdk lists what the text shows). */
const TEXT_HELP = 'message text; @0x… (a whole wallet address) in it mentions that member (at most MAX_MENTIONS, 32)'

const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** `--bootstrap`, repeatable: an address that is no multiaddr is refused by its flag, not met at the first dial. */
const relayAddresses = (value: string, previous: string[] | undefined): string[] => {
  if (!isMultiaddr(value)) {
    throw new InvalidArgumentError('not a multiaddr: give a relay’s address as it prints it (/ip4/…/tcp/…/p2p/…)')
  }
  return repeatable(value, previous)
}

function clientOptions(command: Command, room: 'required' | 'optional' = 'required'): Command {
  const roomFlag = [
    '--room <invite>',
    'the room: an invite (`securechat room create` prints one), a file holding one, or with --data-dir the id or name of a room joined before',
  ] as const
  return (room === 'required' ? command.requiredOption(...roomFlag) : command.option(...roomFlag))
    .option(
      '--bootstrap <multiaddr>',
      'relay to connect to (repeatable; default: the relays in the invite)',
      relayAddresses,
    )
    .option('--key-file <file>', 'wallet: hex private key or ethers JSON keystore (or set SECURECHAT_PRIVATE_KEY)')
    .option('--domain <domain>', 'SIWE domain to sign the session certificate for', undefined)
    .option('--chain-id <id>', 'chain id to sign the session certificate for')
    .option('--rpc <url>', 'JSON-RPC endpoint: reads token gates, accepts contract wallets (env SECURECHAT_RPC)')
    .option(
      '--data-dir <dir>',
      'where this device persists: its keys, certificate, rooms, sender keys and DM sessions (encrypted vault)',
    )
    .option('--no-receipts', 'send no read receipts and show none of others (off both ways)')
    .option('--no-typing', 'send no typing indicators and show none of others (off both ways)')
    .addHelpText('after', DATA_DIR_HELP)
}

/** The version of this package (`node/package.json`), for `securechat --version`. */
function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return version
}

export function buildProgram(): Command {
  const program = new Command('securechat')
    .description('SecureChat: decentralized, end-to-end encrypted chat for Ethereum wallets')
    .version(packageVersion(), '-V, --version', 'print the version of securechat')
    .showHelpAfterError()

  program
    .command('relay')
    .description('run a community relay node (libp2p: TCP + WebSockets, circuit relay v2, gossipsub)')
    .option('--config <file>', 'JSON config file with the same settings')
    .option('--listen <multiaddr>', 'listen address (repeatable; env SECURECHAT_LISTEN)', repeatable)
    .option('--announce <multiaddr>', 'public address to announce (repeatable; env SECURECHAT_ANNOUNCE)', repeatable)
    .option('--peer <multiaddr>', 'another relay to stay connected to (repeatable; env SECURECHAT_PEERS)', repeatable)
    .option(
      '--data-dir <dir>',
      'where the relay keeps its peer key, its IPFS blocks and the leaf lists it anchored or was handed (env SECURECHAT_DATA_DIR)',
    )
    .option('--max-connections <n>', 'inbound connections at most (env SECURECHAT_MAX_CONNECTIONS)')
    .option(
      '--max-connections-per-ip <n>',
      'inbound connections from one IP (IPv6: one /64) at most; loopback and the addresses of --http-trusted-proxy and --colocation-whitelist are not capped (env SECURECHAT_MAX_CONNECTIONS_PER_IP)',
    )
    .option(
      '--max-connections-per-peer <n>',
      'inbound connections of one PeerId at most (env SECURECHAT_MAX_CONNECTIONS_PER_PEER)',
    )
    .option(
      '--max-unread-bytes-per-peer <n>',
      'bytes of gossip a peer may leave unread before its connection is closed (env SECURECHAT_MAX_UNREAD_BYTES_PER_PEER)',
    )
    .option(
      '--max-pending-connections <n>',
      'inbound connections still in their handshake at most (env SECURECHAT_MAX_PENDING_CONNECTIONS)',
    )
    .option(
      '--connection-rate-per-ip <n>',
      'new inbound connections per second one IP may open, on average (env SECURECHAT_CONNECTION_RATE_PER_IP)',
    )
    .option('--max-reservations <n>', 'circuit relay slots (env SECURECHAT_MAX_RESERVATIONS)')
    .option(
      '--max-reservations-per-ip <n>',
      'circuit relay slots the peers of one IP may hold (env SECURECHAT_MAX_RESERVATIONS_PER_IP)',
    )
    .option(
      '--reservation-ttl-ms <ms>',
      'a circuit relay slot not refreshed in this long is released; it is released at once when its holder disconnects (env SECURECHAT_RESERVATION_TTL_MS)',
    )
    .option(
      '--records-per-second <n>',
      'chat messages one device may send to one room or DM topic per second, on average; more are dropped (env SECURECHAT_RECORDS_PER_SECOND)',
    )
    .option(
      '--record-burst <n>',
      'chat messages one device may send to one topic at once (env SECURECHAT_RECORD_BURST)',
    )
    .option(
      '--control-records-per-second <n>',
      'presence, sender keys, DM device lists and queries per device and topic per second, on average (env SECURECHAT_CONTROL_RECORDS_PER_SECOND)',
    )
    .option(
      '--control-record-burst <n>',
      'such records one device may send to one topic at once (env SECURECHAT_CONTROL_RECORD_BURST)',
    )
    .option(
      '--record-flood-ban-after-ms <ms>',
      'a device over its record rate this long without a pause is disconnected and refused (env SECURECHAT_RECORD_FLOOD_BAN_AFTER_MS)',
    )
    .option('--record-flood-ban-ms <ms>', 'how long such a device is refused (env SECURECHAT_RECORD_FLOOD_BAN_MS)')
    .option(
      '--record-flood-bans-per-ip <n>',
      'this many devices of one IP banned at once get the IP refused too, for as long; never the --colocation-whitelist or --http-trusted-proxy addresses (env SECURECHAT_RECORD_FLOOD_BANS_PER_IP)',
    )
    .option(
      '--read-records-in-flight <n>',
      "records of one neighbour handled at once before the relay reads it no further: the rest waits on the neighbour's side of the connection (env SECURECHAT_READ_RECORDS_IN_FLIGHT)",
    )
    .option(
      '--max-tier-records-per-second <n>',
      "the most chat messages per second a gated room's rate tier may give one device and topic (env SECURECHAT_MAX_TIER_RECORDS_PER_SECOND)",
    )
    .option(
      '--colocation-threshold <peers>',
      'penalise every peer of an IP address with more peers than this; 0 (default): never, since many honest clients share a NAT or proxy (env SECURECHAT_COLOCATION_THRESHOLD)',
    )
    .option(
      '--colocation-whitelist <ip>',
      'an IP address never penalised for colocation, e.g. your TLS proxy (repeatable; env SECURECHAT_COLOCATION_WHITELIST, comma-separated)',
      repeatable,
    )
    .option('--rpc <url>', 'JSON-RPC endpoint: reads token gates, verifies contract wallets (env SECURECHAT_RPC)')
    .option(
      '--gate-head-read-interval-ms <ms>',
      "gated records wait for a read of the chain's head after they arrived; reads are at least this far apart, 0: one per record (env SECURECHAT_GATE_HEAD_READ_INTERVAL_MS)",
    )
    .option('--chain-id <id>', 'chain the --rpc endpoint serves; asked from it when absent (env SECURECHAT_CHAIN_ID)')
    .option('--audit-log <address>', 'AuditLog contract for anchoring (env SECURECHAT_AUDIT_LOG)')
    .option(
      '--anchor-key <file>',
      'anchor accepted messages, paying gas with this key: hex private key or JSON keystore (env SECURECHAT_ANCHOR_KEY, or the key itself in SECURECHAT_ANCHOR_PRIVATE_KEY); needs --rpc and --audit-log',
    )
    .option('--anchor-interval-ms <ms>', 'how often a batch is anchored (env SECURECHAT_ANCHOR_INTERVAL_MS)')
    .option('--anchor-max-batch <n>', 'most messages per anchored batch (env SECURECHAT_ANCHOR_MAX_BATCH)')
    .option(
      '--anchor-gas-limit <gas>',
      'gas limit per anchor transaction; estimated when absent (env SECURECHAT_ANCHOR_GAS_LIMIT)',
    )
    .option(
      '--http <port>',
      'serve the web app, /config.json, /healthz, /metrics, /audit/proof and POST /audit/leaf-lists on this port; 0 picks one (env SECURECHAT_HTTP_PORT)',
    )
    .option('--http-host <host>', 'interface of the HTTP server (default 127.0.0.1; env SECURECHAT_HTTP_HOST)')
    .option('--web-root <dir>', 'the built web app (default: web/dist of this checkout; env SECURECHAT_WEB_ROOT)')
    .option(
      '--web-allow-private',
      'tell the web app it may dial loopback and private addresses: LANs and devnets only (env SECURECHAT_WEB_ALLOW_PRIVATE=1)',
    )
    .option(
      '--web-rpc <url>',
      'JSON-RPC endpoint the web app is told to use; default --rpc. Every visitor sees it: no secret in it (env SECURECHAT_WEB_RPC)',
    )
    .option(
      '--web-ens-rpc <url>',
      'Ethereum mainnet JSON-RPC endpoint the web app uses to show ENS names; none by default (env SECURECHAT_WEB_ENS_RPC)',
    )
    .option(
      '--web-ice-server <url>',
      "a STUN or TURN URL for browsers' WebRTC, repeatable; default the browser's (env SECURECHAT_WEB_ICE_SERVERS, comma-separated)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--http-trusted-proxy <ip>',
      'a reverse proxy in front of --http: its requests are rate-limited by the client in X-Forwarded-For, nobody else is believed (repeatable; env SECURECHAT_HTTP_TRUSTED_PROXIES, comma-separated)',
      repeatable,
    )
    .option(
      '--tls-cert <file>',
      'PEM certificate chain, leaf first: serve wss:// on --listen …/tls/ws addresses and HTTPS on --http; read again on SIGHUP (env SECURECHAT_TLS_CERT)',
    )
    .option('--tls-key <file>', "the certificate's PEM private key, no passphrase (env SECURECHAT_TLS_KEY)")
    .option(
      '--store <where>',
      'keep what passes through rooms for history: sqlite (default, under --data-dir), sqlite:<file>, postgres://user:password@host/db (relays may share one), or none (env SECURECHAT_STORE)',
    )
    .option('--store-max-age-ms <ms>', 'keep records this long (env SECURECHAT_STORE_MAX_AGE_MS)')
    .option(
      '--store-max-records <n>',
      'records kept per room or DM topic, oldest go first (env SECURECHAT_STORE_MAX_RECORDS)',
    )
    .option('--store-max-bytes <n>', 'bytes kept per topic, oldest go first (env SECURECHAT_STORE_MAX_BYTES)')
    .option(
      '--store-sender-max-records <n>',
      'records one sender may have stored per topic; beyond, its records are not kept (env SECURECHAT_STORE_SENDER_MAX_RECORDS)',
    )
    .option(
      '--store-sender-max-bytes <n>',
      'bytes one sender may have stored per topic (env SECURECHAT_STORE_SENDER_MAX_BYTES)',
    )
    .option(
      '--store-queries-per-second <n>',
      'store queries (catch-up, gap repair) one peer may make per second, on average (env SECURECHAT_STORE_QUERIES_PER_SECOND)',
    )
    .option('--store-query-burst <n>', 'store queries one peer may make at once (env SECURECHAT_STORE_QUERY_BURST)')
    .option(
      '--store-queries-per-second-per-ip <n>',
      'store queries the peers of one IP may make per second (env SECURECHAT_STORE_QUERIES_PER_SECOND_PER_IP)',
    )
    .option(
      '--store-query-burst-per-ip <n>',
      'store queries the peers of one IP may make at once (env SECURECHAT_STORE_QUERY_BURST_PER_IP)',
    )
    .option(
      '--store-queries-at-once-per-peer <n>',
      'store queries of one peer under way at once (env SECURECHAT_STORE_QUERIES_AT_ONCE_PER_PEER)',
    )
    .option(
      '--store-queries-at-once-per-ip <n>',
      'store queries of the peers of one IP under way at once (env SECURECHAT_STORE_QUERIES_AT_ONCE_PER_IP)',
    )
    .option(
      '--store-queries-at-once <n>',
      'store queries the relay answers at once in all; more are answered busy (env SECURECHAT_STORE_QUERIES_AT_ONCE)',
    )
    .option(
      '--file-retention-ms <ms>',
      'keep the files members share this long after they were pinned; default --store-max-age-ms (env SECURECHAT_FILE_RETENTION_MS)',
    )
    .option('--file-max-bytes <n>', 'largest file kept, in bytes of ciphertext (env SECURECHAT_FILE_MAX_BYTES)')
    .option(
      '--file-room-quota <n>',
      'bytes the files of one room or DM may take together (env SECURECHAT_FILE_ROOM_QUOTA)',
    )
    .option(
      '--file-total-quota <n>',
      'bytes all files kept may take, under --data-dir/files; 0 keeps none (env SECURECHAT_FILE_TOTAL_QUOTA)',
    )
    .option(
      '--sfu',
      "forward larger calls: run Janus (apt-get install janus) as the relay's child and offer it to room members; off by default (env SECURECHAT_SFU=1)",
    )
    .option('--sfu-janus-bin <path>', `the Janus binary (default ${SFU_JANUS_BIN}; env SECURECHAT_SFU_JANUS_BIN)`)
    .option(
      '--sfu-rtp-ports <first-last>',
      `UDP ports Janus takes call media on; open them in the firewall (default ${SFU_RTP_PORTS}; env SECURECHAT_SFU_RTP_PORTS)`,
    )
    .option(
      '--sfu-interface <name|ip>',
      'the interface (or its IP) call media uses; default every interface but loopback (env SECURECHAT_SFU_INTERFACE)',
    )
    .option(
      '--sfu-public-ip <ip>',
      'the public IP Janus announces to devices when the host is behind a 1:1 NAT (env SECURECHAT_SFU_PUBLIC_IP)',
    )
    .option(
      '--sfu-max-publishers <n>',
      `devices in one forwarded call at most (default ${SFU_MAX_PUBLISHERS}, at most ${MAX_SFU_FEEDS}; env SECURECHAT_SFU_MAX_PUBLISHERS)`,
    )
    .option(
      '--sfu-max-calls <n>',
      `calls forwarded at once at most (default ${SFU_MAX_CALLS}; env SECURECHAT_SFU_MAX_CALLS)`,
    )
    .option('--json', 'one JSON object per stdout line; the first lists the multiaddrs (env SECURECHAT_JSON=1)')
    // Loaded here, not above: the relay's services (its stores, PostgreSQL's driver, the call forwarding unit) are
    // no part of a client command's start.
    .action(async (flags) => {
      const [{ runRelay }, { resolveRelayConfig }] = await Promise.all([
        import('./commands/relay.ts'),
        import('./config.ts'),
      ])
      return runRelay(resolveRelayConfig(flags, process.env), () => resolveRelayConfig(flags, process.env))
    })

  const room = program.command('room').description('manage rooms')
  room
    .command('create')
    .description('create a room and print its invite')
    .requiredOption('--name <name>', 'room name')
    .addOption(new Option('--access <type>', 'who may join').choices(['public', 'invite-only', 'gated']))
    .option(
      '--gate <rule>',
      'token gate: erc721:<contract>[:<min>], erc1155:<contract>#<id>[:<min>], erc20:<contract>[:<min>] (& all, | any), JSON, or a JSON file',
    )
    .option('--rpc <url>', 'check the --gate rule on chain and name its tokens (env SECURECHAT_RPC)')
    .option('--bootstrap <multiaddr>', 'relay to put in the invite (repeatable)', relayAddresses)
    .option('--key-file <file>', 'wallet: hex private key or ethers JSON keystore (or set SECURECHAT_PRIVATE_KEY)')
    .option('--domain <domain>', 'SIWE domain accepted in the room (repeatable; default localhost)', repeatable)
    .option('--chain-id <id>', 'chain id accepted in the room (repeatable; default 31337)', repeatable)
    .action(async (flags) => roomCreate(flags))
  room
    .command('list')
    .description('list the rooms this device joined (one JSON object per line, with an invite to each)')
    .requiredOption('--data-dir <dir>', 'the device whose rooms to list (encrypted vault)')
    .option('--key-file <file>', 'wallet: hex private key or ethers JSON keystore (or set SECURECHAT_PRIVATE_KEY)')
    .addHelpText('after', DATA_DIR_HELP)
    .action(async (flags) => roomList(flags))

  clientOptions(program.command('send').description('send one message to a room').argument('<text>', TEXT_HELP)).action(
    async (text: string, flags) => send(flags, text),
  )
  clientOptions(
    program
      .command('send-file')
      .description('share a file in a room: encrypted here, kept by the relays, announced by a message')
      .argument('<path>', 'the file to share'),
  )
    .option('--caption <text>', 'the message shown with the file')
    .option('--type <media-type>', 'its media type, e.g. image/png (default application/octet-stream)')
    .action(async (path: string, flags) => sendFile(flags, path))
  clientOptions(
    program
      .command('get-file')
      .description('save the file a room message shares (resumes a .part left by an interrupted run)')
      .argument('<message-id>', 'the id of the message that shares it (`listen --json` prints it)'),
  )
    .option('--out <path>', 'where to save it: a file, or a folder to save it in under its name (default: this folder)')
    .option('--force', 'replace a file already at that path')
    .action(async (id: string, flags) => getFile(flags, id))
  registerMessageKinds(program)
  registerModeration(program, room)
  clientOptions(
    program.command('listen').description('print messages of a room, or direct messages, as they arrive'),
    'optional',
  )
    .option('--json', 'one JSON object per message')
    .option('--dm', 'direct messages to this wallet instead of a room')
    .action(async (flags) => {
      if (flags.dm === true) {
        if (flags.room !== undefined) throw new ConfigError('listen takes --room or --dm, not both')
        return listenDm(flags)
      }
      if (flags.room === undefined) {
        throw new ConfigError('listen needs --room <invite> or --dm', { hint: 'securechat listen --help' })
      }
      return listen(flags)
    })
  clientOptions(
    program
      .command('history')
      .description(
        "print a room's history kept by the relays (since what this device has, with --data-dir), then exit",
      ),
  )
    .option('--json', 'one JSON object per message')
    .action(async (flags) => history(flags))
  clientOptions(program.command('chat').description('chat in a room interactively')).action(async (flags) =>
    chat(flags),
  )
  clientOptions(
    program
      .command('members')
      .description('list who is in a room: here now or away, their roles and when each was last seen, then exit'),
  )
    .option('--json', 'one JSON object per member')
    .action(async (flags) => members(flags))
  program
    .command('dm')
    .description('send a direct message to every device of a wallet (end-to-end encrypted)')
    .argument('<address>', 'the wallet to write to')
    .argument('<text>', TEXT_HELP)
    .option('--bootstrap <multiaddr>', 'relay to connect to (repeatable)', relayAddresses)
    .option('--data-dir <dir>', 'where this device and its sessions persist (encrypted vault)')
    .option('--key-file <file>', 'wallet: hex private key or ethers JSON keystore (or set SECURECHAT_PRIVATE_KEY)')
    .option('--domain <domain>', 'SIWE domain to sign the session certificate for', undefined)
    .option('--chain-id <id>', 'chain id to sign the session certificate for')
    .option('--rpc <url>', 'JSON-RPC endpoint: accepts contract wallets (env SECURECHAT_RPC)')
    .addHelpText('after', DATA_DIR_HELP)
    .action(async (address: string, text: string, flags) => dmSend(address, text, flags))
  program
    .command('search')
    .description("search this device's own history (its vault), across rooms and DMs; no network")
    .argument('<terms...>', 'words every match holds (case and accents do not count; the last may be a prefix)')
    .requiredOption('--data-dir <dir>', 'the device whose history to search (encrypted vault)')
    .option('--key-file <file>', 'wallet: hex private key or ethers JSON keystore (or set SECURECHAT_PRIVATE_KEY)')
    .option('--room <room>', 'only this room: an invite, a file holding one, or the id or name of a saved room')
    .option('--dm <address>', 'only the direct conversation with this wallet')
    .option('--limit <n>', 'at most this many matches, newest first (default DEFAULT_SEARCH_LIMIT, 50)')
    .option('--json', 'one JSON object per match')
    .addHelpText('after', DATA_DIR_HELP)
    .action(async (terms: string[], flags: SearchFlags) => search(terms, flags))
  registerAuditCommands(program)
  return program
}

/** `reply`, `react`, `edit`, `delete`: in a room (`--room`) or a DM conversation (`--dm`). */
/**
 * `kick`, `ban`, `unban`, `mute`, `unmute`, `lock`, `unlock`, `remove`, `gate set|open`, `mod add|remove`,
 * `owner transfer` and `room log` (docs/cli.md, Moderation).
 */
function registerModeration(program: Command, room: Command): void {
  const action = (command: Command, name: ModerationAction): void => {
    clientOptions(command.argument('<address>', 'the wallet acted on')).action(async (address: string, flags) =>
      moderate(name, address, flags),
    )
  }
  action(program.command('kick').description('remove a member now (an owner or moderator; it may join again)'), 'kick')
  action(program.command('ban').description('remove a member and keep it out (an owner or moderator)'), 'ban')
  action(program.command('unban').description('let a banned member join again (an owner or moderator)'), 'unban')
  clientOptions(
    program
      .command('mute')
      .description("drop a member's messages, reactions and edits until a time (an owner or moderator)")
      .argument('<address>', 'the wallet muted'),
  )
    .requiredOption('--for <duration>', 'how long: e.g. 10m, 2h, 7d (at most MAX_MUTE_MS, 30 days)')
    .action(async (address: string, flags) => moderate('mute', address, flags, flags))
  action(program.command('unmute').description('end a member’s mute now (an owner or moderator)'), 'unmute')
  clientOptions(
    program
      .command('lock')
      .description('admit no new member: only those listed now (and the roles) take part (an owner or moderator)'),
  )
    .option('--read-only', 'and only the owner and moderators may send')
    .action(async (flags) => moderate('lock', undefined, flags, flags))
  clientOptions(program.command('unlock').description('admit new members again (an owner or moderator)')).action(
    async (flags) => moderate('unlock', undefined, flags),
  )
  clientOptions(
    program
      .command('remove')
      .description(
        "remove a member's message as a moderator: every honest device drops its text and shows it removed by a moderator",
      )
      .argument('<id>', 'the message (listen --json prints ids)'),
  )
    .option('--author <address>', 'its sender (listen --json prints it), when this device does not hold the message')
    .action(async (id: string, flags) => moderate('remove', id, flags, flags))
  const gate = program.command('gate').description("change a room's token gate (the owner)")
  clientOptions(
    gate
      .command('set')
      .description('from now on members must pass this rule: those who fail it are dropped, holders admitted')
      .argument(
        '<rule...>',
        'as room create --gate takes it: erc721:<contract>, erc20:<contract>:<min>, JSON, or a file',
      ),
  ).action(async (rule: string[], flags) => moderate('gate', undefined, flags, { ...flags, gate: rule.join(' ') }))
  clientOptions(gate.command('open').description('lift the token gate: no token is asked any more')).action(
    async (flags) => moderate('gate', undefined, flags),
  )
  const mod = program.command('mod').description("appoint or remove a room's moderators (the owner)")
  action(mod.command('add').description('make a wallet a moderator'), 'mod-add')
  action(mod.command('remove').description('take a moderator its role'), 'mod-remove')
  const owner = program.command('owner').description("the room's owner")
  action(
    owner.command('transfer').description('hand the room over to a wallet (you become a member)'),
    'owner-transfer',
  )
  clientOptions(
    room.command('log').description("print a room's moderation log and the roles and bans it gives, then exit"),
  )
    .option('--json', 'one JSON object per event, then one with the state')
    .action(async (flags) => roomLog(flags))
}

function registerMessageKinds(program: Command): void {
  const where = (command: Command): Command =>
    clientOptions(command, 'optional').option(
      '--dm <address>',
      'in the direct conversation with this wallet instead of a room',
    )
  where(
    program
      .command('reply')
      .description('reply to a message (it joins that message’s thread)')
      .argument('<id>', 'the message replied to (listen --json prints ids)')
      .argument('<text>', TEXT_HELP),
  ).action(async (id: string, text: string, flags: WriteFlags) =>
    writeMessage(flags, { room: (room) => room.reply(id, text), dm: (c, options) => c.reply(id, text, options) }),
  )
  where(
    program
      .command('react')
      .description('react to a message with an emoji, or take the reaction back (--remove)')
      .argument('<id>', 'the message reacted to')
      .argument('<emoji>', 'an emoji (at most MAX_REACTION_GRAPHEMES characters, no spaces)'),
  )
    .option('--remove', 'take this reaction back')
    .action(async (id: string, emoji: string, flags: WriteFlags & { remove?: boolean }) =>
      writeMessage(flags, reactWrite(id, emoji, flags.remove === true)),
    )
  where(
    program
      .command('edit')
      .description('give a message you sent a new text (the others see it edited, with every version)')
      .argument('<id>', 'your message')
      .argument('<text>', `the new text (its mentions replace the old ones); ${TEXT_HELP}`),
  ).action(async (id: string, text: string, flags: WriteFlags) =>
    writeMessage(flags, { room: (room) => room.edit(id, text), dm: (c, options) => c.edit(id, text, options) }),
  )
  where(
    program
      .command('delete')
      .description('delete a message you sent: honest devices drop its text, from their vaults too')
      .argument('<id>', 'your message'),
  ).action(async (id: string, flags: WriteFlags) =>
    writeMessage(flags, { room: (room) => room.delete(id), dm: (c, options) => c.delete(id, options) }),
  )
  where(
    program
      .command('disappear')
      .description(
        "set a room's (its owner only) or a DM conversation's disappearing-messages timer: messages sent from then on leave every honest device that long after they were sent",
      )
      .argument('<duration>', 'off, or 10s (the shortest) to 365d: e.g. 5m, 1h, 1d, 1w'),
  ).action(async (duration: string, flags: WriteFlags) => disappear(duration, flags))
}

/** `anchor`, `verify`, `export` (issue #6). Their modules load on use: Helia and IPFS are heavy to import. */
function registerAuditCommands(program: Command): void {
  const chainOptions = (command: Command): Command =>
    command
      .option(
        '--audit-log <address>',
        'AuditLog contract (env SECURECHAT_AUDIT_LOG; on chain 31337: where npm start deploys it)',
      )
      .option(
        '--from-block <n>',
        'look for Anchored events from this block on (default: ANCHOR_SCAN_BLOCKS back; 0 on chain 31337)',
      )
      .option('--anchorer <address>', 'only batches this account anchored (a relay operator publishes it)')
  chainOptions(
    clientOptions(
      program
        .command('export')
        .description(
          'export the room history this device receives as a transcript anyone can verify (securechat verify --file)',
        ),
    ),
  )
    .requiredOption('--out <file>', 'where to write the transcript (JSON)')
    .option(
      '--in <transcript>',
      'start from an earlier transcript: its messages and anchors are kept, new anchors added',
    )
    .option('--duration <ms>', 'listen this long, then export (default: until Ctrl-C; with --in: do not listen)')
    .action(async (flags) => (await import('./commands/export.ts')).exportTranscript(flags))
  chainOptions(
    clientOptions(
      program
        .command('anchor')
        .description("anchor a room's messages yourself: those received while listening, or a transcript's (--file)"),
      'optional',
    ),
  )
    .option('--file <transcript>', 'anchor the messages of this transcript instead of listening')
    .option('--out <file>', 'write the transcript with the new anchor here (default: --file)')
    .option('--duration <ms>', 'listen this long, then anchor (default: until Ctrl-C)')
    .option('--gas-limit <gas>', 'gas limit of the anchor transaction (default: estimated)')
    .action(async (flags) => (await import('./commands/anchor.ts')).anchor(flags))
  chainOptions(
    program
      .command('verify')
      .description(
        'prove a message was anchored, unchanged, in a room (leaf, proof, root, on-chain anchor); exits 1 if not',
      )
      .option('--room <invite>', 'the room the message belongs to (invite or file)')
      .option('--message <id>', 'message id (listen --json prints it)')
      .option('--sender <address>', 'also check that this wallet sent it')
      .option('--record <file>', 'also check this record (the exact bytes published) against the anchor')
      .option(
        '--shared-file <path>',
        "also check that the message's record commits to this file (with --record and --salt, or --file)",
      )
      .option(
        '--salt <hex>',
        "the shared file's commitment salt (listen --json prints it; default with --file: the transcript's)",
      )
      .option(
        '--file <transcript>',
        'verify an exported transcript: every message, and gaps in anchored ranges (with --moderation: a log file)',
      )
      .option(
        '--moderation',
        "verify the room's moderation log against its anchors: every event signed, chained and allowed, none removed",
      )
      .option(
        '--bootstrap <multiaddr>',
        'relay to fetch leaf lists (and with --moderation, the log) from (repeatable; default: the relays in the invite)',
        relayAddresses,
      )
      .option('--rpc <url>', 'JSON-RPC endpoint of the chain with the audit log (env SECURECHAT_RPC)')
      .option('--json', 'print the verdict as JSON'),
  ).action(async (flags) => (await import('./commands/verify.ts')).verify(flags))
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof SecureChatError) {
      process.stderr.write(`error: ${err.name}: ${err.message}\n`)
      if (err.hint !== undefined) process.stderr.write(`hint: ${err.hint}\n`)
      return 1
    }
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    return 1
  }
}
