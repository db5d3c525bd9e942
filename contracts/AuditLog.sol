// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/**
 * @title AuditLog
 * @notice Records the Merkle roots of SecureChat message batches, so anyone can prove that a message existed,
 * unchanged, no later than the block that anchored its batch.
 *
 * @dev Design decision: one packed storage slot per root (anchorer, block number, timestamp), plus an event.
 *
 * Reason: a verifier proves `leaf -> proof -> root -> anchor` with one plain `eth_call` to {anchorOf}, which every
 * RPC answers, instead of an `eth_getLogs` scan that public RPCs cap to small block ranges; and the contract itself
 * enforces that the first anchor of a root stands (a replay reverts with {AuditLogRootAlreadyAnchored}), so no one can
 * bury the original anchor under later ones or make a root look younger than it is.
 *
 * Cost: the fresh slot (22,100 gas) is the price of those two properties. Measured on Hardhat's EDR (solc 0.8.37,
 * optimizer 200 runs, cancun, a 59-character CIDv1): 49.1k gas per anchor, i.e. 49 gas per message at a batch of
 * 1,000 messages, which misses the project goal of 30; it meets it from batches of ~1,640 messages (relays batch many
 * rooms into one root). Alternatives measured the same way: an event-only log, 26.5k gas (26.5 per message at 1,000),
 * and an event plus a one-slot hash chain of all anchors, 31.7k. Neither can reject a replay or answer "when was this
 * root first anchored?" without a log scan (or a transaction hash carried with every proof), so both were rejected.
 * The leaf count and the CID of the leaf list are only emitted, never stored: the root already commits to the leaves,
 * and storing the CID string would cost more than the anchor itself.
 */
contract AuditLog {
    /// @dev Packed into one slot: 48 + 48 + 160 bits. A zero `blockNumber` means "not anchored".
    struct Anchor {
        uint48 blockNumber;
        uint48 timestamp;
        address anchorer;
    }

    mapping(bytes32 root => Anchor) private _anchors;

    /**
     * @notice Emitted when `anchorer` anchors `root`, the Merkle root of a batch of `count` leaves whose leaf list is
     * published on IPFS under `cid`.
     */
    event Anchored(bytes32 indexed root, address indexed anchorer, uint32 count, string cid);

    /// @notice The zero root cannot be anchored.
    error AuditLogZeroRoot();

    /// @notice A batch must have at least one leaf.
    error AuditLogZeroCount(bytes32 root);

    /// @notice The batch's leaf list CID is missing, so nobody could rebuild the tree.
    error AuditLogEmptyCid(bytes32 root);

    /// @notice `root` was already anchored at `blockNumber`: the first anchor stands.
    error AuditLogRootAlreadyAnchored(bytes32 root, uint48 blockNumber);

    /**
     * @notice Anchors `root`, the Merkle root of a batch of `count` message leaves whose leaf list is published on
     * IPFS under `cid`. Anyone may anchor: room members and relays alike. Records the caller, the block number and
     * the block timestamp.
     * @dev Reverts with {AuditLogZeroRoot}, {AuditLogZeroCount}, {AuditLogEmptyCid}, or
     * {AuditLogRootAlreadyAnchored} when `root` already has an anchor. Emits {Anchored}.
     * @param root Merkle root of the batch (OpenZeppelin-compatible tree).
     * @param count Number of leaves in the batch.
     * @param cid IPFS CID of the batch's leaf list.
     */
    function anchor(bytes32 root, uint32 count, string calldata cid) external {
        if (root == bytes32(0)) revert AuditLogZeroRoot();
        if (count == 0) revert AuditLogZeroCount(root);
        if (bytes(cid).length == 0) revert AuditLogEmptyCid(root);
        uint48 anchoredAt = _anchors[root].blockNumber;
        if (anchoredAt != 0) revert AuditLogRootAlreadyAnchored(root, anchoredAt);

        _anchors[root] = Anchor({
            blockNumber: uint48(block.number),
            timestamp: uint48(block.timestamp),
            anchorer: msg.sender
        });
        emit Anchored(root, msg.sender, count, cid);
    }

    /**
     * @notice Returns the anchor of `root`: who anchored it, in which block, at what block time (seconds since the
     * Unix epoch). All three are zero when `root` was never anchored.
     * @param root Merkle root to look up.
     */
    function anchorOf(
        bytes32 root
    ) external view returns (address anchorer, uint48 blockNumber, uint48 timestamp) {
        Anchor memory a = _anchors[root];
        return (a.anchorer, a.blockNumber, a.timestamp);
    }

    /**
     * @notice Returns whether `root` has been anchored.
     * @param root Merkle root to look up.
     */
    function isAnchored(bytes32 root) external view returns (bool) {
        return _anchors[root].blockNumber != 0;
    }
}
