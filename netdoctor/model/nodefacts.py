"""Facts about one node's (or one pod's) network stack, from the standard commands' output.

Sits in the model layer. Field names follow what ``ip -j`` and ``bridge -j`` print, so the
parsers decode straight into these types. ``None`` on a ``NodeFacts`` field means the data was
not collected (its file is missing); an empty tuple means it was collected and is empty.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from netdoctor.model.calico import BgpStatus
from netdoctor.model.ovn import OvnTrace, OvsShow

__all__ = [
    "AddrInfo",
    "Chain",
    "FdbEntry",
    "Interface",
    "IptRule",
    "LinkInfo",
    "Neighbour",
    "NetFacts",
    "NextHop",
    "Route",
    "RoutingRule",
    "Ruleset",
    "Table",
    "sysctl_kept",
]


class _F(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base for decoded command output: immutable, keys as the command prints them."""


class AddrInfo(_F, frozen=True):
    family: str = ""  # "inet" | "inet6"
    local: str = ""
    prefixlen: int = 0
    scope: str = ""
    label: str | None = None
    broadcast: str | None = None
    secondary: bool = False
    dynamic: bool = False

    @property
    def interface(self) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        return ipaddress.ip_interface(f"{self.local}/{self.prefixlen}")


class LinkInfo(_F, frozen=True):
    info_kind: str | None = None
    info_slave_kind: str | None = None
    info_data: dict[str, Any] | None = None


class Interface(_F, frozen=True):
    """One entry of ``ip -j -d addr show``."""

    ifindex: int = 0
    ifname: str = ""
    flags: tuple[str, ...] = ()
    mtu: int = 0
    operstate: str = "UNKNOWN"
    link_type: str = ""
    address: str | None = None  # link-layer address
    link: str | None = None  # the peer or parent device's name, when in this namespace
    link_index: int | None = None
    link_netnsid: int | None = None
    master: str | None = None
    linkinfo: LinkInfo | None = None
    addr_info: tuple[AddrInfo, ...] = ()

    @property
    def kind(self) -> str | None:
        return self.linkinfo.info_kind if self.linkinfo else None

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    def addresses(self, family: str = "inet") -> list[AddrInfo]:
        return [a for a in self.addr_info if a.family == family and a.local]


class NextHop(_F, frozen=True):
    gateway: str | None = None
    dev: str | None = None
    weight: int | None = None
    flags: tuple[str, ...] = ()


class RouteMetrics(_F, frozen=True):
    """A route's metrics as ``ip -j route`` prints them: ``"metrics": [{"mtu": 1450}]``
    (``ip route add ... mtu 1450``; ``mtu lock 1450`` prints the same)."""

    mtu: int | None = None
    advmss: int | None = None


class Route(_F, frozen=True):
    """One entry of ``ip -j route show table all``."""

    dst: str = ""  # "default", a prefix "10.30.0.0/26", or a host "10.6.131.36"
    type: str | None = None  # unicast when absent; local, broadcast, blackhole, unreachable, ...
    gateway: str | None = None
    dev: str | None = None
    protocol: str | None = None
    scope: str | None = None
    prefsrc: str | None = None
    metric: int | None = None
    table: str | None = None  # absent for main
    flags: tuple[str, ...] = ()
    nexthops: tuple[NextHop, ...] = ()
    metrics: tuple[RouteMetrics, ...] = ()

    @property
    def mtu(self) -> int | None:
        """The route's MTU (``ip route ... mtu N``): it clamps what leaves by this route below
        the device's MTU (Cilium keeps a pod's eth0 at 1500 and its routes at 1450)."""
        for m in self.metrics:
            if m.mtu:
                return m.mtu
        return None

    def text(self) -> str:
        """The route as ``ip route`` prints it: ``default via 10.6.131.1 dev eno1 proto static``."""
        words = [self.dst]
        for key, value in (
            ("via", self.gateway),
            ("dev", self.dev),
            ("proto", self.protocol),
            ("scope", self.scope),
            ("src", self.prefsrc),
            ("metric", None if self.metric is None else str(self.metric)),
            ("mtu", None if self.mtu is None else str(self.mtu)),
        ):
            if value:
                words += [key, value]
        return " ".join([*words, *self.flags])

    @property
    def table_name(self) -> str:
        return self.table or "main"

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The destination prefix, or None when ``dst`` is not an address (it always is)."""
        if self.dst == "default":
            return ipaddress.ip_network("0.0.0.0/0")
        try:
            return ipaddress.ip_network(self.dst, strict=False)
        except ValueError:
            return None


class RoutingRule(_F, frozen=True):
    """One entry of ``ip -j rule show``."""

    priority: int = 0
    src: str | None = None
    srclen: int | None = None
    dst: str | None = None
    dstlen: int | None = None
    table: str | None = None
    iif: str | None = None
    oif: str | None = None
    fwmark: str | None = None
    fwmask: str | None = None  # printed next to fwmark when the rule has a mask ("0x4000")
    action: str | None = None
    not_: bool = msgspec.field(default=False, name="not")


class Neighbour(_F, frozen=True):
    """One entry of ``ip -j neigh show``."""

    dst: str = ""
    dev: str | None = None
    lladdr: str | None = None
    state: tuple[str, ...] = ()
    router: bool | None = None


class FdbEntry(_F, frozen=True):
    """One entry of ``bridge -j fdb show``."""

    mac: str = ""
    ifname: str | None = None
    dst: str | None = None
    vlan: int | None = None
    vni: int | None = None
    master: str | None = None
    flags: tuple[str, ...] = ()
    state: str | None = None


class IptRule(_F, frozen=True):
    """One ``-A CHAIN ...`` line of ``iptables-save``, with its common matches pulled out.

    ``args`` keeps every token in order (so nothing is lost); the named fields are the ones
    checks evaluate. A ``*_neg`` flag means the match was written with ``!``.
    """

    line: int  # 1-based line number in the file
    text: str  # the line as written
    chain: str
    args: tuple[str, ...] = ()
    protocol: str | None = None
    protocol_neg: bool = False
    source: str | None = None
    source_neg: bool = False
    destination: str | None = None
    destination_neg: bool = False
    in_iface: str | None = None
    in_iface_neg: bool = False
    out_iface: str | None = None
    out_iface_neg: bool = False
    sports: str | None = None  # "--sport"/"--sports" value, e.g. "8472" or "1000:2000" or "53,80"
    sports_neg: bool = False
    dports: str | None = None
    dports_neg: bool = False
    matches: tuple[str, ...] = ()  # the -m modules, in order
    comment: str | None = None
    target: str | None = None  # -j target (ACCEPT, DROP, a chain, ...)
    goto: bool = False  # the target was given with -g
    target_args: tuple[str, ...] = ()


class Chain:
    """One chain of a table, its rules in file order.

    Rules are parsed on first access: a 1,000-node Calico cluster holds half a million
    per-pod rules that no check reads unless a trace passes through that pod. Until then the
    chain keeps its lines as one string and their line numbers. The parser checked every
    line's syntax when it read the file, so parsing later does not fail on well-formed input.
    """

    __slots__ = ("_lines", "_numbers", "_parse", "_rules", "name", "policy")

    def __init__(
        self,
        name: str,
        policy: str | None = None,  # None for user-defined chains ("-")
        rules: tuple[IptRule, ...] | None = None,
        *,
        lines: str = "",
        numbers: Sequence[int] = (),
        parse: Callable[[str, int], IptRule] | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._rules = rules
        self._lines = lines
        self._numbers = numbers
        self._parse = parse

    @property
    def rules(self) -> tuple[IptRule, ...]:
        if self._rules is None:
            parse = self._parse
            if parse is None or not self._numbers:
                self._rules = ()
            else:
                texts = self._lines.split("\n")
                self._rules = tuple(parse(t, n) for t, n in zip(texts, self._numbers, strict=True))
            self._lines, self._numbers, self._parse = "", (), None
        return self._rules

    def texts(self) -> list[str]:
        """The rules as written, without parsing them (a scan for one option is far cheaper
        than parsing half a million Calico rules)."""
        if self._rules is not None:
            return [r.text for r in self._rules]
        return self._lines.split("\n") if self._numbers else []

    def __len__(self) -> int:
        return len(self._rules) if self._rules is not None else len(self._numbers)

    def __repr__(self) -> str:
        return f"Chain({self.name!r}, policy={self.policy!r}, rules={len(self)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chain):
            return NotImplemented
        return (self.name, self.policy, self.rules) == (other.name, other.policy, other.rules)

    __hash__ = None  # type: ignore[assignment]  # mutable cache inside: not hashable


class Table(_F, frozen=True):
    name: str
    chains: dict[str, Chain] = msgspec.field(default_factory=dict)


class Ruleset(_F, frozen=True):
    """A whole ``iptables-save`` output: tables in the order they were printed."""

    tables: dict[str, Table] = msgspec.field(default_factory=dict)
    backend: str | None = None  # "nf_tables" or "legacy", from the header comment, when given

    def chain(self, table: str, chain: str) -> Chain | None:
        t = self.tables.get(table)
        return t.chains.get(chain) if t else None


# Per-interface sysctls worth keeping: the ones that decide forwarding, reverse-path filtering,
# proxy ARP and addressing. ``sysctl -a`` prints about 120 keys per interface (5,000 on a node
# with 30 pod veths); holding them all for 1,000 nodes costs more than the cluster's pods.
SYSCTL_IFACE_KEYS = frozenset(
    {
        "accept_local",
        "accept_ra",
        "accept_redirects",
        "arp_announce",
        "arp_ignore",
        "disable_ipv6",
        "forwarding",
        "log_martians",
        "mtu",
        "proxy_arp",
        "proxy_arp_pvlan",
        "route_localnet",
        "rp_filter",
        "send_redirects",
        "src_valid_mark",
    }
)


def sysctl_kept(key: str) -> bool:
    """Whether a ``sysctl -a`` key is part of the model: networking keys only (``net.*``),
    and of the per-interface ones (``net.ipv4.conf.<if>.*``, ``net.ipv6.neigh.<if>.*``) only
    ``all``, ``default`` and the interface keys in ``SYSCTL_IFACE_KEYS``."""
    if not key.startswith("net."):
        return False
    parts = key.split(".", 4)
    if len(parts) == 5 and parts[1] in ("ipv4", "ipv6") and parts[2] in ("conf", "neigh"):
        if parts[3] in ("all", "default"):
            return True
        return parts[2] == "conf" and parts[4] in SYSCTL_IFACE_KEYS
    return True


class NetFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the standard commands printed in one network namespace (a node or a pod).

    ``None``: not collected. Files are named in the bundle layout (``netdoctor.model.layout``).
    """

    interfaces: tuple[Interface, ...] | None = None
    routes: tuple[Route, ...] | None = None
    routes6: tuple[Route, ...] | None = None
    rules: tuple[RoutingRule, ...] | None = None
    neighbours: tuple[Neighbour, ...] | None = None
    fdb: tuple[FdbEntry, ...] | None = None
    sysctl: dict[str, str] | None = None  # the networking subset: see ``sysctl_kept``
    iptables: Ruleset | None = None
    ip6tables: Ruleset | None = None
    nft: dict[str, Any] | None = None
    ipvs: str | None = None
    conntrack: str | None = None
    cni_files: dict[str, str] | None = None  # file name -> content, as in /etc/cni/net.d
    extra: dict[str, str] = msgspec.field(default_factory=dict)  # extra/<name>.txt -> content
    # Parsed views of extra texts: extra/ovs-vsctl-show.txt, extra/ovn-trace-<label>.txt and the
    # BGP status capture (calicoctl-node-status.txt, else birdcl-show-protocols.txt)
    ovs_show: OvsShow | None = None
    ovn_traces: dict[str, OvnTrace] = msgspec.field(default_factory=dict)  # label -> trace
    bgp_status: BgpStatus | None = None

    def interface(self, name: str) -> Interface | None:
        for i in self.interfaces or ():
            if i.ifname == name:
                return i
        return None

    def interface_with_address(self, ip: str) -> tuple[Interface, AddrInfo] | None:
        """The interface holding ``ip`` (compared as addresses, not strings)."""
        try:
            want = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for i in self.interfaces or ():
            for a in i.addr_info:
                try:
                    if a.local and ipaddress.ip_address(a.local) == want:
                        return i, a
                except ValueError:
                    continue
        return None
