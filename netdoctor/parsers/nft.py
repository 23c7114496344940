"""``nodes/<node>/nft-ruleset.json`` (``nft -j list ruleset``) -> the typed ruleset.

Parsers layer. The bundle keeps the JSON itself (``NetFacts.nft``); this checks that it is the
structure nft prints and types it (``netdoctor.model.nftables``). Bad input is one ParseError
naming the file.
"""

from __future__ import annotations

from netdoctor.errors import ParseError
from netdoctor.model.nftables import NftRuleset, decode_ruleset
from netdoctor.parsers.bundle_files import parse_nft

__all__ = ["parse_nft_ruleset"]


def parse_nft_ruleset(data: bytes, file: str) -> NftRuleset:
    doc = parse_nft(data, file)
    try:
        return decode_ruleset(doc)
    except ValueError as e:
        raise ParseError(file, str(e)) from None
