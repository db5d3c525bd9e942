// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title DemoMultiToken
 * @notice Demo ERC-1155 multi-token for the devnet and tests: a balance of some id passes an ERC-1155 room gate.
 * @dev No metadata URI. Not meant for production use.
 */
contract DemoMultiToken is ERC1155, Ownable {
    /**
     * @notice Deploys the token, owned by `initialOwner`, the only account that may mint.
     * @param initialOwner Account allowed to {mint}.
     */
    constructor(address initialOwner) ERC1155("") Ownable(initialOwner) {}

    /**
     * @notice Mints `amount` of token `id` to `to`. Only the owner may mint.
     * @dev A contract recipient must implement {IERC1155Receiver}. Emits {TransferSingle}.
     * @param to Recipient.
     * @param id Token id.
     * @param amount Amount to mint.
     */
    function mint(address to, uint256 id, uint256 amount) external onlyOwner {
        _mint(to, id, amount, "");
    }
}
