"""Calico's BGP sessions as its tools print them (model layer).

``BgpPeer`` is one row of ``calicoctl node status`` or ``birdcl show protocols``
(``netdoctor.parsers.bgpstatus`` reads them); ``BgpStatus`` is the capture a node's
``extra/`` held, kept on ``NetFacts.bgp_status`` by the bundle loader.
"""

from __future__ import annotations

import msgspec

__all__ = ["BGP_STATUS_FILES", "BgpPeer", "BgpStatus"]

# The captures under nodes/<node>/extra/ that list a node's BGP sessions, the first preferred.
BGP_STATUS_FILES = ("calicoctl-node-status", "birdcl-show-protocols")


class BgpPeer(msgspec.Struct, frozen=True, kw_only=True):
    """One BGP session: the peer, BIRD's state and the row it came from."""

    address: str
    peer_type: str  # "node-to-node mesh" | "global" | "node specific" | ...
    state: str  # BIRD's protocol state: "up", "start", ...
    info: str  # "Established", "Connect", "Active", "OpenSent", ...
    line: int  # 1-based line in the capture
    text: str  # the row as written

    @property
    def established(self) -> bool:
        return self.info.split()[0:1] == ["Established"]

    @property
    def mesh(self) -> bool:
        return "mesh" in self.peer_type


class BgpStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The BGP sessions one capture lists, and the capture's name under ``extra/``."""

    file: str  # one of BGP_STATUS_FILES
    peers: tuple[BgpPeer, ...]
