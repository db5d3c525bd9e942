// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title DemoToken
 * @notice Demo ERC-20 token (18 decimals) for the devnet and tests: a minimum balance passes an ERC-20 room gate.
 * @dev Not meant for production use.
 */
contract DemoToken is ERC20, Ownable {
    /**
     * @notice Deploys the token, owned by `initialOwner`, the only account that may mint.
     * @param initialOwner Account allowed to {mint}.
     */
    constructor(address initialOwner) ERC20("SecureChat Demo Token", "SCDEMO") Ownable(initialOwner) {}

    /**
     * @notice Mints `amount` (in the smallest unit) to `to`. Only the owner may mint.
     * @dev Emits {Transfer}.
     * @param to Recipient.
     * @param amount Amount to mint, in wei-like units (18 decimals).
     */
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
