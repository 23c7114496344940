"""BGP session tables printed by Calico's tools -> ``netdoctor.model.calico.BgpPeer`` (parsers).

The bundle loader keeps ``extra/*.txt`` as text (these captures are free-form, for people) and
parses these two into ``NetFacts.bgp_status``, which the Calico checks read.

Two captures a bundle may hold under ``nodes/<node>/extra/``:

* ``calicoctl-node-status.txt`` (``calicoctl node status``): a table per address family,
  ``| PEER ADDRESS | PEER TYPE | STATE | SINCE | INFO |``, one row per peer; ``INFO`` is
  ``Established`` for a working session, else BIRD's state (``Connect``, ``Active``, ...).
* ``birdcl-show-protocols.txt`` (``birdcl -s /var/run/calico/bird.ctl show protocols``): BIRD's
  protocol list; Calico names its BGP protocols ``Mesh_10_0_0_2`` (node-to-node mesh),
  ``Node_...`` (node-specific BGPPeer) and ``Global_...`` (global BGPPeer).

Unknown lines are skipped: these are human-oriented tables, and a partial capture still says
something about the rows it has.
"""

from __future__ import annotations

import ipaddress
import re

from netdoctor.model.calico import BgpPeer

__all__ = ["parse_birdcl_protocols", "parse_calicoctl_node_status"]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_calicoctl_node_status(text: str) -> tuple[BgpPeer, ...]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 5 or not _is_ip(cells[0]):
            continue  # the header row, a rule line, or a row cut short
        out.append(
            BgpPeer(
                address=cells[0],
                peer_type=cells[1],
                state=cells[2],
                info=cells[4],
                line=n,
                text=line,
            )
        )
    return tuple(out)


_BIRD_ROW = re.compile(
    r"^(?P<name>(?P<kind>Mesh|Node|Global)_(?P<addr>[0-9A-Fa-f_]+))\s+BGP\s+\S+\s+"
    r"(?P<state>\S+)\s+(?P<since>\S+(?:\s\d\d:\d\d:\d\d)?)\s*(?P<info>.*)$"
)
_BIRD_TYPES = {"Mesh": "node-to-node mesh", "Node": "node specific", "Global": "global"}


def parse_birdcl_protocols(text: str) -> tuple[BgpPeer, ...]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        m = _BIRD_ROW.match(raw.strip())
        if m is None:
            continue
        parts = m.group("addr").split("_")
        # IPv4 names join the four octets with "_"; IPv6 names join the hextets the same way.
        address = ".".join(parts) if len(parts) == 4 else ":".join(parts)
        out.append(
            BgpPeer(
                address=address,
                peer_type=_BIRD_TYPES[m.group("kind")],
                state=m.group("state"),
                info=m.group("info").strip(),
                line=n,
                text=raw.strip(),
            )
        )
    return tuple(out)
