// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title SmartWallet
 * @notice Minimal ERC-1271 contract wallet owned by an EOA. It accepts a signature iff the owner made it, so a SIWE
 * sign-in by a contract wallet can be proven; it can hold ETH, ERC-20, ERC-721 and ERC-1155 tokens and move them
 * through {execute}.
 * @dev For the devnet and tests. No nonces, no modules, no recovery: not meant for production use.
 */
contract SmartWallet is IERC1271, Ownable, ERC721Holder, ERC1155Holder {
    /// @dev `IERC1271.isValidSignature.selector`, returned for a valid signature.
    bytes4 private constant _MAGIC_VALUE = 0x1626ba7e;
    /// @dev Returned for any signature the owner did not make.
    bytes4 private constant _INVALID_SIGNATURE = 0xffffffff;

    /**
     * @notice Emitted when the owner made the wallet call `target` with `value` wei and `data`.
     */
    event Executed(address indexed target, uint256 value, bytes data);

    /// @notice {execute} was asked to send `needed` wei but the wallet holds only `balance`.
    error SmartWalletInsufficientBalance(uint256 balance, uint256 needed);

    /**
     * @notice Deploys a wallet owned by `initialOwner`.
     * @param initialOwner EOA whose signatures the wallet accepts and who may {execute}.
     */
    constructor(address initialOwner) Ownable(initialOwner) {}

    /**
     * @notice Accepts ETH.
     */
    receive() external payable {}

    /**
     * @notice ERC-1271: returns `0x1626ba7e` iff `signature` over `hash` recovers to the owner, `0xffffffff` otherwise.
     * Never reverts on a malformed or foreign signature.
     * @param hash Digest that was signed (for SIWE: the EIP-191 hash of the message text).
     * @param signature 65-byte (r, s, v) ECDSA signature.
     */
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(hash, signature);
        if (err != ECDSA.RecoverError.NoError || signer != owner()) return _INVALID_SIGNATURE;
        return _MAGIC_VALUE;
    }

    /**
     * @notice Calls `target` with `value` wei and `data` from the wallet and returns what it returned. Only the owner
     * may execute. Plain ETH transfers to accounts without code work too. A revert of the call is bubbled up
     * unchanged; a revert without data becomes {Errors.FailedCall}.
     * @dev Reverts with {SmartWalletInsufficientBalance} when the wallet (including `msg.value`) holds less than
     * `value`. Emits {Executed}.
     * @param target Contract or account to call.
     * @param value Wei to send along.
     * @param data Calldata.
     * @return result Return data of the call.
     */
    function execute(
        address target,
        uint256 value,
        bytes calldata data
    ) external payable onlyOwner returns (bytes memory result) {
        if (address(this).balance < value) revert SmartWalletInsufficientBalance(address(this).balance, value);
        (bool success, bytes memory returnData) = target.call{value: value}(data);
        result = Address.verifyCallResult(success, returnData);
        emit Executed(target, value, data);
    }

    /**
     * @notice ERC-165: also reports {IERC1271}.
     * @param interfaceId Interface identifier.
     */
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC1271).interfaceId || super.supportsInterface(interfaceId);
    }
}
