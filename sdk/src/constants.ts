/**
 * Defaults of the sdk. Docs point here instead of repeating values.
 */

/** Version of the wire records on room topics; a record with another version is ignored. */
export const WIRE_VERSION = 1

/** Topic prefix of every room: `/securechat/1/room/<roomId>`. */
export const ROOM_TOPIC_PREFIX = '/securechat/1/room/'

/** libp2p protocol that answers "send me the session certificate of this PeerId". */
export const CERTIFICATE_PROTOCOL = '/securechat/cert/1.0.0'

/** Largest record accepted on a room topic; larger ones are rejected before parsing. */
export const MAX_MESSAGE_BYTES = 64 * 1024

/** Largest text body a client will send; leaves room for the record around it. */
export const MAX_TEXT_BYTES = 16 * 1024

/** How often a member announces itself (and its certificate) on each joined room. */
export const PRESENCE_INTERVAL_MS = 15_000

/** A member not heard from for this long is no longer listed as present. */
export const PRESENCE_TIMEOUT_MS = 3 * PRESENCE_INTERVAL_MS

/**
 * Presence scales with the room (`rooms/presence-interval.ts`): up to this many members a member announces itself
 * every presence interval; in a larger room, that many times less often per member beyond it, so what each member
 * receives of the others' presence stays what a room of this size sends (at the default, 200 records a minute).
 */
export const PRESENCE_FULL_RATE_MEMBERS = 50

/**
 * The most the presence interval is stretched (at the default, to 5 minutes, reached at 1,000 members): a member
 * whose device died is shown as present at most three times as long, and its presence acknowledges what it received.
 */
export const PRESENCE_MAX_STRETCH = 20

/** The longest presence interval a record may announce (`every`): the default's longest stretch. */
export const MAX_PRESENCE_INTERVAL_MS = PRESENCE_MAX_STRETCH * PRESENCE_INTERVAL_MS

/** Members whose presence a room remembers to judge leaves and departures by (`rooms/presence-witness.ts`). */
export const MAX_PRESENCE_WITNESS_MEMBERS = 4096

/** Neighbours remembered per member as having carried its presence (`rooms/presence-witness.ts`). */
export const MAX_PRESENCE_WITNESS_NEIGHBOURS = 8

/**
 * Departure notices (`client/departures.ts`): a relay tells a client, on a stream the client opens, that a peer
 * sharing one of its topics closed its connection or unsubscribed, so the room marks it away at once.
 */
export const DEPARTURES_PROTOCOL = '/securechat/departures/1.0.0'

/** Largest departure notice frame, in bytes: one topic and one PeerId in JSON. */
export const MAX_DEPARTURE_NOTICE_BYTES = 1024

/** Notices a relay queues for one client before it drops the next ones (they are hints; presence times out anyway). */
export const MAX_QUEUED_DEPARTURE_NOTICES = 256

/** Default lifetime of a session certificate a wallet signs. */
export const CERTIFICATE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000
/**
 * The longest a session certificate may be valid, from its `issuedAt` to its `expirationTime`. A certificate lets its
 * device key speak for the wallet until it expires, whoever holds that key: a device lost, or a key copied, should
 * not keep the wallet's voice for years. 90 days is twelve of the default week and longer than any sign-in a wallet
 * asks for again (a receiver refuses longer ones; `createCertificate` will not sign one).
 */
export const MAX_CERTIFICATE_LIFETIME_MS = 90 * 24 * 60 * 60 * 1000

/** Clock skew tolerated when checking `issuedAt` and `notBefore` against local time. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000

/** How many ids of recently seen messages each message carries (causal history). */
export const CAUSAL_HISTORY_LENGTH = 3

/**
 * A sent message waits in the outgoing buffer (`rooms/outgoing-buffer.ts`) until every member
 * present when it was sent acknowledges it; unacknowledged, it is first re-published after this
 * many presence intervals (a member's heartbeat acknowledges what it received; one may be lost),
 * then after twice as long each time.
 */
export const REPUBLISH_AFTER_PRESENCE_INTERVALS = 2

/**
 * Re-publishes go out at most this many at a time, {@link REPUBLISH_BATCH_INTERVAL_MS} apart: what a
 * burst lost must not come back as a burst of its own (a relay busy verifying a burst fails its
 * pings and loses its connections, which lost the burst in the first place).
 */
export const REPUBLISH_BATCH = 50
export const REPUBLISH_BATCH_INTERVAL_MS = 500

/**
 * A message sent while no other member is present waits for a relay's store (`rooms/outgoing-buffer.ts`):
 * the stores are first asked this long after sending (a relay validates, then writes in batches), then
 * as often until one holds it; it is re-published on the usual schedule meanwhile.
 */
export const STORE_CHECK_AFTER_MS = 2_000

/**
 * Re-publishes of an unacknowledged message before the sender gives up (`message:unacknowledged`). Only those that
 * went to a neighbour count: while this device reaches nobody (a partition, a relay that is down), the message
 * waits, re-tried on the same backoff.
 */
export const MAX_REPUBLISH_ATTEMPTS = 3

/**
 * A member that comes back and lacks a message still waiting for it (its presence's acks say so) has it re-published
 * at once, unless it went out less than this long ago: members that return together after a partition heals get one
 * re-publish, not one each, and a message whose backoff grew to minutes while nobody could be reached does not
 * wait that long once they can (found by the 8-peer loss test: one message sent during the partition never came).
 */
export const RETURNED_REPUBLISH_GAP_MS = 5_000

/**
 * Own messages awaiting acknowledgement per room (their records, ~0.6 KB each, are kept); beyond
 * it the oldest is given up. As many as one presence's `acks` covers: more could not be acknowledged.
 */
export const MAX_OUTGOING_MESSAGES = 2_000

/**
 * Own messages a room keeps after they are acknowledged (or after they were sent with no member waiting), newest, for
 * members that come back: what a member away missed meanwhile is re-published for it unless its presence
 * acknowledges it (`OutgoingBuffer.returned`). Memory only; also bounded by {@link MAX_SENT_KEPT_BYTES}.
 */
export const MAX_SENT_KEPT = 500

/** Bytes of record data of {@link MAX_SENT_KEPT} (4 MiB). */
export const MAX_SENT_KEPT_BYTES = 4 * 1024 * 1024

/**
 * Channels from one sender that later openings replaced, kept in memory by a receiver so that a distribution
 * re-published after the sender answered `want`s with new openings still opens (`RoomKeys`).
 */
export const MAX_RETIRED_CHANNELS = 4

/**
 * Presence acknowledges (`acks`, a Bloom filter) what the member received since its last few
 * presences: each received message id rides in this many (one may be lost).
 */
export const ACK_PRESENCES = 3

/** Most message ids one presence's `acks` covers (the newest): a filter of 6 KB at most, small when the room is quiet. */
export const MAX_ACK_FILTER_IDS = 2_000

/**
 * Bits per id of an `acks` filter: with {@link ACK_FILTER_HASHES} hashes, about 1 in 100,000 false
 * positives. A false positive takes one member's copy for granted and nothing re-publishes it, so
 * it is kept rare (10 bits and 7 hashes, ~1 %, left a message of a 300-message test unrepaired now and then).
 */
export const ACK_FILTER_BITS_PER_ID = 24

/** Hash functions of an `acks` filter, from two 32-bit slices of the sha256 message id (double hashing). */
export const ACK_FILTER_HASHES = 16

/** Largest `acks` filter accepted, in bytes: {@link MAX_ACK_FILTER_IDS} ids at {@link ACK_FILTER_BITS_PER_ID}. */
export const MAX_ACK_FILTER_BYTES = Math.ceil((MAX_ACK_FILTER_IDS * ACK_FILTER_BITS_PER_ID) / 8)

/** Most certificates a peer caches (verified or known bad) before evicting the oldest. */
export const MAX_CACHED_CERTIFICATES = 10_000

/** Messages held while their sender's certificate is being fetched, per room. */
export const MAX_PENDING_MESSAGES = 256

/**
 * Neighbours remembered per member as having forwarded its presence, to ask for its key bundle: relays linked in a
 * ring hear a member by more than one way, and the one heard last may be the one asking.
 */
export const MAX_BUNDLE_SOURCES = 3

/** Time allowed for a certificate request over {@link CERTIFICATE_PROTOCOL}. */
export const CERTIFICATE_FETCH_TIMEOUT_MS = 5_000

/** Largest certificate record accepted over the wire. */
export const MAX_CERTIFICATE_BYTES = 4 * 1024

/** How often a client re-dials bootstrap relays it is not connected to. */
export const BOOTSTRAP_REDIAL_INTERVAL_MS = 2_000

/**
 * A relay connection that closes sooner than this after it opened was refused (the relay banned this device, or is at
 * a per-peer, per-address or total cap, and hangs up after Noise): the relay is redialled after a backoff, not at
 * once. Longer than a refusing relay takes to hang up under load; shorter than any connection a client uses.
 */
export const RELAY_REFUSED_WITHIN_MS = 5_000

/**
 * First wait before a relay that refused this client is dialled again; doubled at each refusal in a row up to
 * {@link RELAY_REFUSED_BACKOFF_MAX_MS}, forgotten after a connection that lasts {@link RELAY_REFUSED_WITHIN_MS}.
 * Without it a refused client redials in a loop: hundreds of connections a second to a relay that said no.
 */
export const RELAY_REFUSED_BACKOFF_MIN_MS = 2_000

/** Longest wait before a relay that keeps refusing this client is dialled again: a ban that ends is noticed within it. */
export const RELAY_REFUSED_BACKOFF_MAX_MS = 60_000

/**
 * Relay connections a client keeps when it knows that many (`client/relays.ts`): with two, a relay that dies
 * leaves the room carried by the other, and the client only has to replace it.
 */
export const RELAY_CONNECTIONS_TARGET = 2

/**
 * How long a relay connection may stay open without gossipsub on it (its stream failed, or never opened) before
 * the relay pool closes it and dials again: longer than identify and the protocol negotiation take under load.
 */
export const RELAY_GOSSIP_GRACE_MS = 10_000

/**
 * How long a relay connection has to answer a ping when the app asks for a check (`RelayPool.check`: the network
 * changed, or a call's connection lost its path), before the pool closes it and dials the relay again. A WebSocket
 * opened from an address the device no longer has stays "open" with nothing coming through — until libp2p's own
 * ping gives up, up to {@link PING_INTERVAL_MS} plus {@link PING_TIMEOUT_MS} later — and a call's signals sent on it
 * go nowhere. Short, since it runs only when something already suggests the path is gone; not shorter, since a live
 * relay on a loaded machine may take seconds to answer, and a live connection closed is messages in flight redone.
 */
export const RELAY_CHECK_TIMEOUT_MS = 5_000

/**
 * How long a relay waits for a ping on a peer's older connection when the peer connected again
 * (`node/src/relay/stale-connections.ts`): a peer back on a new connection most often left the old one behind with its
 * old address, and until it is closed the peer hears no gossip. A live connection answers in a round trip; closing one
 * that was merely slow costs the peer nothing, as it has the new one.
 */
export const STALE_CONNECTION_PING_TIMEOUT_MS = 2_000

/**
 * libp2p protocol a relay answers with the relays it links to (`client/relay-hints.ts`): a client told of one
 * relay learns the others, to fail over to. Hints only: a client dials them and trusts nothing else in them.
 */
export const RELAY_HINTS_PROTOCOL = '/securechat/relays/1.0.0'

/** Most relays one relay's answer may name; the rest are dropped by both sides. */
export const MAX_RELAY_HINTS = 16

/** Most addresses of one relay in a hint (TCP, WebSockets, IPv4 and IPv6 fit). */
export const MAX_RELAY_HINT_ADDRESSES = 8

/** Longest address in a hint (a multiaddr with a DNS name and a PeerId fits). */
export const MAX_RELAY_HINT_ADDRESS_CHARS = 256

/** Largest relay hints frame: {@link MAX_RELAY_HINTS} relays of {@link MAX_RELAY_HINT_ADDRESSES} full-length addresses fit. */
export const MAX_RELAY_HINTS_BYTES = 40 * 1024

/** Time allowed for one relay hints exchange, from opening the stream to the last byte. */
export const RELAY_HINTS_TIMEOUT_MS = 5_000

/** How long before a client asks a relay for its hints again, while it has fewer than its target of relays. */
export const RELAY_HINTS_REFRESH_MS = 60_000

/**
 * Most relays a client keeps that it learned (identified on the network, or named by a relay's hints) rather
 * than was told of: a relay cannot fill its memory. A full list makes room by forgetting one whose dial failed.
 */
export const MAX_LEARNED_RELAYS = 32

/**
 * How long a direct WebRTC dial through a relay may take (~170 ms measured on loopback;
 * seconds over TURN). Now and then a handshake stalls with its data channels never opening: in
 * the web bench, 6 of 33 page pairs whose only candidates were Chromium's mDNS-hidden host
 * addresses (`.local` names; no STUN on loopback), none of 24 with that hiding switched off
 * (`--disable-features=WebRtcHideLocalIpsWithMdns`). Giving up sooner lets the retry, which
 * then succeeds, come sooner; messages flow through the relay meanwhile.
 */
export const DIRECT_DIAL_TIMEOUT_MS = 5_000

/**
 * A start's dial of its bootstrap relays gives up on one after this long without a connection (TCP, Noise and yamux
 * done), unless the caller passes a signal of its own.
 */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 10_000

/**
 * How many rounds of dials a start makes when every relay timed out, one to two seconds apart (then ~33 s in all).
 * A relay that is busy — fifty devices behind one NAT reconnecting at once keep it in Noise handshakes for seconds —
 * lets a dial time out that succeeds a moment later; an app tries again, so the sdk does. A relay that refused the
 * connection (nothing listens there) fails the start at once: waiting would not help.
 */
export const BOOTSTRAP_DIAL_ROUNDS = 3

/**
 * Shortest wait before a member answers newcomers (its presence, its sender key): joins that arrive together are
 * answered together.
 */
export const JOIN_ANSWER_MIN_MS = 50

/** The shortest window a member spreads its answers to newcomers over: what a small room always had. */
export const JOIN_ANSWER_MIN_WINDOW_MS = 250

/**
 * A member's answers to newcomers are spread over this much per member of the room (jittered; at least
 * {@link JOIN_ANSWER_MIN_WINDOW_MS}): one presence reaches every newcomer, and one keys record seals to up to
 * {@link MAX_KEY_RECIPIENTS_PER_RECORD} of them, so a burst of joins costs each member a few records, not one per
 * newcomer.
 */
export const JOIN_ANSWER_MS_PER_MEMBER = 50

/** Longest a member gathers newcomers before it answers them (the jittered window's bound). */
export const JOIN_ANSWER_MAX_MS = 2_000

/** How long the larger PeerId waits for the smaller one to dial before dialling itself. */
export const DIRECT_DIAL_DEFER_MS = 2_000

/** Longest wait between direct-dial retries to one peer (backing off from 1 s); then it is left relayed. */
export const DIRECT_DIAL_MAX_BACKOFF_MS = 32_000

/** Domain-separation URN prefixes placed in a certificate's SIWE `resources`. */
export const PEER_RESOURCE_PREFIX = 'urn:securechat:peer:'
export const BUNDLE_RESOURCE_PREFIX = 'urn:securechat:bundle:'

/** Recipients per sender-key distribution record; keeps a record well under {@link MAX_MESSAGE_BYTES}. */
export const MAX_KEY_RECIPIENTS_PER_RECORD = 32

/**
 * Longest channel-wrapped key entry of a keys record, base64url characters: a wrapped sender-key
 * distribution is about 200 bytes (270 characters; crypto/pairwise-channel.ts), with room for
 * long PeerIds and room ids in it.
 */
export const MAX_WRAPPED_KEY_CHARS = 512

/**
 * Most pairwise channels a room keeps in the vault (one per member that sent us its key); the
 * rest are opened afresh after a restart.
 */
export const MAX_ROOM_CHANNELS = 4_096

/**
 * Most members (present or absent) whose key bundles a room keeps in the vault, so that a
 * restarted device seals its new epoch to them too; the rest get it once seen again.
 */
export const MAX_SAVED_ROOM_MEMBERS = 4_096

/** Largest encoded key bundle accepted (fetched on demand; older peers' presence carried it). */
export const MAX_BUNDLE_BYTES = 8 * 1024

/** Members a presence record may ask to resend their sender key. */
export const MAX_KEY_REQUESTS_PER_PRESENCE = 16

/** How long a message waits for its sender's key before it is reported undecryptable. */
export const UNDECRYPTABLE_AFTER_MS = 10_000

/** After joining, `waitForPeers` waits until no new member appeared for this long… */
export const SETTLE_QUIET_MS = 300

/** …but never longer than this (a room may have no other member). */
export const SETTLE_MAX_MS = 1_500

/**
 * For this long after joining a room, members we learn of late get our first epoch's key from
 * its first message: they were in the room, their presence was merely slow to reach us. After
 * it, late members get the key from the current message on (forward secrecy for newcomers).
 */
export const JOIN_GRACE_MS = 10_000

/**
 * How far back a member we learn of late can read us: our chain's state before each message we sent within this
 * window is kept (memory only, wiped on rotation), and a member whose presence reaches us after we sent is sealed
 * from our first message sent at or after the time its presence was signed (`RoomKeys.expectMember`). A busy sender
 * handles a newcomer's presence seconds after sending; without this it sealed from its current message on, and the
 * message sent in between stayed unreadable to a member that had joined before it. A newcomer whose clock runs early
 * reads at most this far back; it could have asked a member for as much.
 */
export const LATE_MEMBER_WINDOW_MS = 30_000

/**
 * Most members a room counts (their presence arrived) before their key bundle is here: for each, our chain as it
 * was when counted is kept until sealed to it (`RoomKeys.expectMember`). Beyond this, a newcomer reads from the
 * state sealed once its bundle arrives.
 */
export const MAX_MEMBERS_AWAITING_BUNDLE = 256

/** Ids of delivered messages a room remembers, to drop a record replayed under a new gossip sequence number. */
export const MAX_REMEMBERED_MESSAGE_IDS = 10_000

/** Longest `waitForPeers` waits for the gossip mesh to include a neighbour, after one subscribed. */
export const MESH_WAIT_MS = 3_000

/**
 * Longest a room message waits for a neighbour that carries the room (a relay coming back, or this device moving
 * to another) before `send` fails: published to nobody, it would be lost. Covers a few redials
 * ({@link BOOTSTRAP_REDIAL_INTERVAL_MS}) and a slow subscription exchange.
 */
export const SEND_NEIGHBOUR_WAIT_MS = 15_000

/**
 * Records a device publishes to one topic per second, on average, and at once (`client/publish-pacing.ts`): half of
 * what relays accept by default (`RELAY_RECORDS_PER_SECOND`, `RELAY_RECORD_BURST` in the node package), so that a
 * client sending in a loop slows down instead of being dropped and cut off as a flooder. A person typing, presence
 * and key records never wait (a person sends a message every few seconds; Slack lets a bot post one a second per
 * channel, Discord five in five seconds); a hundred messages go at once, and a thousand take about three minutes.
 */
export const SEND_RECORDS_PER_SECOND = 5
export const SEND_RECORD_BURST = 100

/**
 * The share of its rate tier a device paces itself at in a gated room with tiers (docs/token-gates.md, Rate tiers):
 * the share {@link SEND_RECORDS_PER_SECOND} is of relays' default rate, for the same reason (records sent apart
 * arrive bunched). Its burst is as many seconds of that pace as {@link SEND_RECORD_BURST} is of its own.
 */
export const SEND_TIER_PACE_SHARE = 0.5

/** Topics whose publishing pace a device tracks before it forgets the idle ones. */
export const MAX_PACED_TOPICS = 1_024

/**
 * First and longest pause before a room message that went to nobody (a neighbour's subscription arrived before
 * the stream to it opened) is published again, within {@link SEND_NEIGHBOUR_WAIT_MS}.
 */
export const PUBLISH_RETRY_MIN_MS = 50
export const PUBLISH_RETRY_MAX_MS = 1_000

/**
 * How long libp2p's connection ping waits for its answer before the connection is cut: libp2p's default of 5 s cut
 * every client of a relay whose event loop lagged that long under a burst (fifty members joining one room on a loaded
 * machine), and they all reconnected at once into the same relay. Fixed, not adaptive: an answer this late is a dead
 * peer or a stalled one, whatever the round trips before it were.
 */
export const PING_TIMEOUT_MS = 20_000

/**
 * How often libp2p pings each connection; longer than {@link PING_TIMEOUT_MS}. The ping protocol allows one outbound
 * ping stream per peer, and libp2p's monitor pings on a fixed interval (10 s by default): a ping still waiting when
 * the next is due makes the next one fail to open its stream, and that failure aborts the connection too. With the
 * default interval, a 20 s timeout was a 10 s one — fifty clients behind one address lost their relay at once when
 * their process lagged past it. A dead peer whose connection never closed is found within this and the timeout.
 */
export const PING_INTERVAL_MS = 30_000

/** Gossipsub sends IDONTWANT only for messages at least this large (files, not chat records). */
export const IDONTWANT_MIN_DATA_BYTES = 16 * 1024

/**
 * Longest a node validates gossip records, or a room sends, before the event loop gets a turn
 * (`client/paced-validation.ts`): a backlog worked through in one go starves timers and sockets,
 * and libp2p's connection monitor then aborts connections whose pings went unanswered for 5 s,
 * losing what was queued on them.
 */
export const PACER_SLICE_MS = 20

/**
 * Turns a lane of a node's validation pacer takes in a row while a later lane waits (`client/paced-validation.ts`):
 * chat records before sender keys, sender keys before presence and other control records. Messages no longer queue
 * behind a join's records, nor sender keys behind its presence, and each later lane still gets one turn in every
 * five, so a newcomer's key gets through a stream of messages and presence through a stream of keys.
 */
export const PACER_TURNS_PER_LATER_LANE = 4

/**
 * Longest `Room.send` waits for its gossip streams to drain (`client/gossip-drain.ts`) before it
 * returns anyway: the message is published; a neighbour that reads nothing for this long is for
 * the connection monitor to judge.
 */
export const GOSSIP_DRAIN_WAIT_MS = 15_000

// --- Bounds of the numbers a record carries (rooms/wire.ts, rooms/manifest.ts, dm/wire.ts, audit/transcript.ts).
// Outside them a record is malformed: relays and peers refuse it alike, with no clock involved (a
// bound relative to "now" would split them by their clocks). Integers are safe integers already (zod).

/**
 * Latest time a record may state (`sentAtMs`, `atMs`, `createdAtMs`): the last millisecond of year
 * 9999. Every time up to it is a valid `Date` with a four-digit year; beyond 8.64e15 ms a `Date` is
 * invalid and formatting it throws.
 */
export const MAX_RECORD_TIME_MS = 253_402_300_799_999

/**
 * Largest Lamport clock of a message record: 2^48, out of reach of honest counting, and `+ 1` stays
 * exact. A sender whose clock a hostile record pushed there stays there (it never sends past it).
 */
export const MAX_LAMPORT_CLOCK = 2 ** 48

/** Largest sender-key epoch: the u32 of the sender-key message header (crypto/sender-keys.ts). */
export const MAX_SENDER_KEY_EPOCH = 0xffff_ffff

/**
 * How long a member whose presence stopped (timed out, or went offline) still gets our sender
 * keys sealed to it: the relays' default store retention (30 days), so a member that comes back
 * within it reads, through catch-up, everything sent meanwhile. A member that leaves the room
 * (`leaveRoom`), is removed or fails the gate stops getting them at once.
 */
export const ABSENT_MEMBER_KEYS_MS = 30 * 24 * 60 * 60 * 1000

/** Most absent members a room keeps sealing keys to; the longest absent is dropped first. */
export const MAX_ABSENT_MEMBERS = 256

/**
 * How long a room's first message waits for the members the relays' stores kept the presence of
 * (learned on join: `learnRoomMembers`, or catch-up's first step), so that it is sealed to the
 * members away too. A store that answers later still adds them: within `JOIN_GRACE_MS` they get
 * the first epoch from its first message, after that from the next message on.
 */
export const STORED_MEMBERS_WAIT_MS = 5_000

/** Most messages one catch-up fetches (memory bound); the next catch-up goes on from there. */
export const MAX_CATCH_UP_MESSAGES = 50_000

/** Most key and presence records one catch-up fetches. */
export const MAX_CATCH_UP_STATE_RECORDS = 10_000

/**
 * Ids of the messages this device delivered last, kept with its history position (vault): a
 * catch-up re-reads {@link CATCH_UP_MARGIN_MS} of what it already had and skips these. A room
 * busier than this many messages within the margin may show one again after a restart.
 */
export const MAX_POSITION_IDS = 1_024

/**
 * How far before the moment this device was last live a catch-up asks the relays from (by their
 * receive time): the clock skew tolerated between device and relay, plus a minute for records
 * still in flight then.
 */
export const CATCH_UP_MARGIN_MS = CLOCK_SKEW_MS + 60_000

/**
 * Gap repair: how long a message named in a later record's `deps` may stay absent before it
 * counts as missing and is asked for (gossip may bring it a moment later, by another path).
 */
export const GAP_GRACE_MS = 1_000

/** Gap repair: how long between two asks for a message still missing. */
export const GAP_RETRY_MS = 3_000

/** Gap repair: a message still missing this long after it was first named is reported lost. */
export const GAP_LOST_AFTER_MS = 20_000

/** Gap repair: most messages a room waits for at once; names past this are not followed. */
export const MAX_OPEN_GAPS = 256

/**
 * Late arrivals (`late-arrivals.ts`): records named but not here yet, and late ones not delivered yet, that a
 * room or the DMs remember the place of; past it a very late message is listed last.
 */
export const MAX_LATE_ARRIVALS = 1_024

/** Gap repair: ids reported lost that a room remembers, so another record naming one does not reopen it. */
export const MAX_LOST_GAP_IDS = 1_024

/**
 * Recent message records a device keeps per room, as received (signed), to answer the room's
 * peers asking for one they missed (`RECENT_PROTOCOL`). Memory only.
 */
export const MAX_RECENT_RECORDS = 500

/** Bytes of record data a device keeps per room for its peers' gap repair (with {@link MAX_RECENT_RECORDS}). */
export const MAX_RECENT_BYTES = 4 * 1024 * 1024

/** How long catch-up waits for a connection just opened to say (identify) whether it keeps history. */
export const IDENTIFY_WAIT_MS = 3_000

/**
 * How long a catch-up whose every relay failed mid-answer waits for another relay that keeps history to connect
 * and identify (the relay pool dials at once when one drops, then every {@link BOOTSTRAP_REDIAL_INTERVAL_MS}), to
 * ask it what is left. When another relay answered, or still answers, only one connected already is asked.
 */
export const CATCH_UP_FAILOVER_WAIT_MS = 2 * BOOTSTRAP_REDIAL_INTERVAL_MS + IDENTIFY_WAIT_MS

/**
 * Most live records (messages, sender keys) a room holds while a catch-up runs, delivered after
 * it in order; past this, live ones are delivered at once (in order no longer guaranteed).
 */
export const MAX_HELD_LIVE_RECORDS = 5_000

/**
 * Longest a room just joined holds live records back while its first catch-up runs; then what it held is delivered
 * and live records flow again, the catch-up delivering what it still finds as it comes (in order no longer
 * guaranteed). A catch-up that crawls — fifty members' key bundles fetched through one busy relay, store queries
 * refused and asked again — must never leave a member reading nothing of a live conversation.
 */
export const CATCH_UP_HOLD_LIVE_MS = 15_000

// --- Message kinds inside the encrypted envelope: replies, reactions, edits, deletes (`message-state.ts`).

/** Longest reaction, in UTF-8 bytes: one emoji of many code points (a family, a flag with tags) fits. */
export const MAX_REACTION_BYTES = 64

/** Most user-perceived characters (grapheme clusters) a reaction may have: an emoji or a short "+1", not a text. */
export const MAX_REACTION_GRAPHEMES = 4

/**
 * Messages whose state (text, versions, reactions, thread) a room or a DM conversation keeps, in memory and in the
 * vault; the oldest go first. A reaction, edit or delete of a message gone from here is kept as pending.
 */
export const MAX_MESSAGE_STATES = 1_000

/** Reactions, edits and deletes kept for messages not (yet) here, per room or conversation; the oldest go first. */
export const MAX_PENDING_CHANGES = 1_000

/** Versions a message keeps (the original and its edits); a later edit is refused. */
export const MAX_MESSAGE_VERSIONS = 32

/** Distinct (emoji, wallet) reactions one message keeps; a new one beyond is refused. */
export const MAX_REACTIONS_PER_MESSAGE = 256

/**
 * Members one message may mention (`@0x…`, `mentions.ts`): an envelope that lists more is refused, and a sender
 * is told before it sends.
 */
export const MAX_MENTIONS = 32

/**
 * How long after a change the message states of a room or of the DMs are saved to the vault (coalesced; a room's
 * position and sender keys go in the same write): a delete reaches the vault within this much. A process killed in
 * between restarts with chains a few messages behind, which still derive every later key (the forward secrecy of
 * the stored state lags by this much, more while messages keep arriving: the keys saved are those taken when none
 * was half-way, `rooms/room-store.ts`).
 */
export const MESSAGE_STATES_SAVE_DELAY_MS = 1_000

/**
 * Records of one gossip neighbour a relay handles at once (`client/read-backpressure.ts`): past it, the relay reads
 * that neighbour's stream no further until half are done. Far above what an honest client sends at its pace
 * ({@link SEND_RECORDS_PER_SECOND}), so only a neighbour sending faster than the relay validates meets it.
 */
export const READ_RECORDS_IN_FLIGHT = 32

/** Longest search term, in code points: a longer word is indexed and looked up by its first this many. */
export const MAX_SEARCH_TERM_CHARS = 64

/** Distinct terms one message adds to the search index; words after these are not found. */
export const MAX_SEARCH_TERMS_PER_MESSAGE = 1_000

/**
 * Messages the search index of one device holds, across its rooms and DMs: the newest this many of those in the
 * vault (each room and DM conversation keeps `MAX_MESSAGE_STATES`). Older ones are not found.
 */
export const MAX_SEARCH_MESSAGES = 20_000

/**
 * Parts the vault keeps the search index in (`search/shard/<n>`, by message id): a message arriving, edited or
 * deleted rewrites the one part that holds it — about 1/64 of the index — not all of it.
 */
export const SEARCH_INDEX_SHARDS = 64

/**
 * How long after a change a search index part is saved to the vault (coalesced, like the message states). Longer
 * than {@link MESSAGE_STATES_SAVE_DELAY_MS}: the vault writes in order, so a part is durable only after the states
 * it follows — a crash leaves the index behind the states (the next load catches it up), never ahead.
 */
export const SEARCH_INDEX_SAVE_DELAY_MS = 1_500

/** Matches a search returns unless told otherwise, newest first. */
export const DEFAULT_SEARCH_LIMIT = 50

/** Characters of a search result's snippet around the first matching word. */
export const SEARCH_SNIPPET_CHARS = 120

// --- Disappearing messages (`disappearing.ts`): a timer per room or DM conversation, set by an encrypted record.

/**
 * Shortest timer, in seconds. Tests and demonstrations use it; the choices people are offered start at five
 * minutes ({@link DISAPPEAR_CHOICES_SECONDS}), where a sender's clock a few seconds off changes little.
 */
export const DISAPPEAR_MIN_SECONDS = 10

/** Longest timer, in seconds: one year. */
export const DISAPPEAR_MAX_SECONDS = 365 * 24 * 3600

/** The timers the web app and the docs offer besides "off", in seconds: 5 minutes, 1 hour, 1 day, 1 week. */
export const DISAPPEAR_CHOICES_SECONDS = [300, 3600, 86_400, 604_800] as const

/**
 * How far ahead of this device's clock a sender's stated send time may push its message's expiry: a message
 * counts from its stated time, but from no later than its arrival plus this much. A clock behind only shortens
 * the sender's own messages' life.
 */
export const DISAPPEAR_CLOCK_SKEW_MS = 60_000

/** Timer changes a conversation keeps (each message's timer is the one in force when it was sent). */
export const MAX_TIMER_CHANGES = 32

/** Longest wait between two expiry sweeps, in ms (a timer set far ahead is checked again at least this often). */
export const EXPIRY_SWEEP_MAX_WAIT_MS = 60 * 60 * 1000

/**
 * A device typing in a conversation says so at most this often (`typing` records, `signals.ts`): a person who
 * keeps typing sends one every this many ms, and one "stopped" when the composer is cleared or sent.
 */
export const TYPING_SEND_INTERVAL_MS = 3_000

/**
 * "X is typing…" is shown this long after X's last `typing` record unless a "stopped" comes first: twice the send
 * interval, so one lost record does not blink it off, and a device that went away stops showing within seconds.
 */
export const TYPING_SHOWN_MS = 2 * TYPING_SEND_INTERVAL_MS

/**
 * A device tells its read position at most this often per conversation (`read` records): reading a busy room
 * sends one record per this many ms, naming the last message read, not one per message.
 */
export const READ_SEND_DELAY_MS = 1_000

/**
 * Typing and read records one sender may have this device open per second in one conversation, on average, and at
 * once: an honest device sends one every {@link TYPING_SEND_INTERVAL_MS} at most; what a flood sends past it is
 * dropped before it is decrypted.
 */
export const SIGNALS_RECEIVED_PER_SECOND = 2
export const SIGNAL_RECEIVE_BURST = 8

/** Senders whose typing and read state one conversation keeps (the most recently heard). */
export const MAX_SIGNAL_SENDERS = 1_024

/**
 * Events a room's moderation log holds (`rooms/moderation-log.ts`): beyond, new events are refused, so a
 * moderator cannot make every peer's state unbounded. Each is about 460 bytes on the wire.
 */
export const MAX_MODERATION_EVENTS = 4_096

/** Events whose previous event is not here yet, kept per room until it comes (catch-up delivers out of order). */
export const MAX_PENDING_MODERATION_EVENTS = 256

/** The longest mute a moderation event may carry (`mute`'s `until`, counted from its `atMs`). */
export const MAX_MUTE_MS = 30 * 24 * 60 * 60 * 1000

/**
 * Wallets a `lock` event names as the room's members (what it admits while locked, docs/architecture.md,
 * Moderation): about 44 bytes each, so a lock of the most stays well under {@link MAX_MESSAGE_BYTES}.
 */
export const MAX_LOCK_MEMBERS = 1_000
