// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title MemberNFT
 * @notice Demo ERC-721 membership NFT for the devnet and tests: holding one passes an ERC-721 room gate.
 * @dev Token ids start at 1 and grow by one per mint. Not meant for production use.
 */
contract MemberNFT is ERC721, Ownable {
    uint256 private _nextTokenId = 1;

    /**
     * @notice Deploys the collection, owned by `initialOwner`, the only account that may mint.
     * @param initialOwner Account allowed to {mint}.
     */
    constructor(address initialOwner) ERC721("SecureChat Member", "SCMEMBER") Ownable(initialOwner) {}

    /**
     * @notice Mints the next membership NFT to `to` and returns its id. Only the owner may mint.
     * @dev Uses `_safeMint`, so a contract recipient must implement {IERC721Receiver}. Emits {Transfer}.
     * @param to Recipient of the new token.
     * @return tokenId Id of the minted token.
     */
    function mint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _safeMint(to, tokenId);
    }

    /**
     * @notice Returns the id the next {mint} will assign.
     */
    function nextTokenId() external view returns (uint256) {
        return _nextTokenId;
    }
}
