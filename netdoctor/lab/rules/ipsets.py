"""The ipsets Felix (calico-node) keeps for the IPIP dataplane."""

from __future__ import annotations

__all__ = ["felix_ipsets"]


def felix_ipsets(pool: str, hosts: list[str]) -> list[list[str]]:
    """``ipset`` argument lists: the IPAM pool (all and masquerade) and every host's addresses."""
    return [
        ["create", "cali40all-ipam-pools", "hash:net", "family", "inet"],
        ["add", "cali40all-ipam-pools", pool],
        ["create", "cali40masq-ipam-pools", "hash:net", "family", "inet"],
        ["add", "cali40masq-ipam-pools", pool],
        ["create", "cali40all-hosts-net", "hash:net", "family", "inet"],
        *(["add", "cali40all-hosts-net", h] for h in hosts),
    ]
