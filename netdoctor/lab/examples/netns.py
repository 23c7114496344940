"""A node's network as namespaces: the model (links, pods, routes, rules) and its builder."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from netdoctor.lab.run import run as lab_run

__all__ = [
    "PREFIX",
    "WIRE",
    "Lab",
    "Link",
    "NodeNet",
    "PodNet",
    "build_node",
    "ib_link_local",
    "remove_stale",
    "run",
    "shquote",
]

PREFIX = "ndex-"
WIRE = f"{PREFIX}wire"


def run(cmd: list[str], ns: str | None = None, check: bool = True, stdin: str | None = None) -> str:
    """The lab's ``run`` (LabError naming the command on failure), inside ``ns`` if given."""
    full = ["ip", "netns", "exec", ns, *cmd] if ns else cmd
    return lab_run(full, stdin=stdin, check=check)


@dataclass
class Link:
    name: str
    kind: str  # nic | ib | tunl | bridge | vxlan
    mac: str | None = None
    mtu: int = 1500
    addrs: list[str] = field(default_factory=list)
    pci: str | None = None
    up: bool = True
    vxlan: list[str] = field(default_factory=list)  # extra "ip link add ... type vxlan" args
    guid: str | None = None  # IPoIB: 20-byte hardware address


@dataclass
class PodNet:
    namespace: str
    name: str
    ip: str
    prefixlen: int
    host_if: str
    host_mac: str
    pod_mac: str
    mtu: int
    gateway: str
    bridge: str | None = None  # flannel: host side is a port of cni0
    pod_routes: list[str] = field(default_factory=list)
    capture: bool = False  # write pods/<ns>/<pod>/ip-*.json too


@dataclass
class NodeNet:
    name: str
    links: list[Link]
    pods: list[PodNet] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    neigh: list[str] = field(default_factory=list)
    fdb: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    ipsets: list[list[str]] = field(default_factory=list)
    iptables: list[list[str]] = field(default_factory=list)
    cni: dict[str, str] = field(default_factory=dict)
    netns: str = ""


class Lab:
    """Creates network namespaces and deletes every one it made."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def netns(self, name: str) -> str:
        run(["ip", "netns", "add", name])
        self.created.append(name)
        return name

    def cleanup(self) -> None:
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.created.clear()


def remove_stale() -> None:
    out = run(["ip", "-j", "netns", "list"]) or "[]"
    for entry in json.loads(out):
        if entry.get("name", "").startswith(PREFIX):
            subprocess.run(["ip", "netns", "del", entry["name"]], capture_output=True, check=False)


def build_node(lab: Lab, node: NodeNet, tag: str, wire_idx: list[int]) -> None:
    ns = lab.netns(f"{PREFIX}{tag}")
    node.netns = ns
    ipn = ["ip", "-n", ns]
    run([*ipn, "link", "set", "lo", "up"])
    # sysctls first: interfaces inherit net.ipv4.conf.default.* when they are created
    for key, value in node.sysctls.items():
        if key.startswith("net.ipv4.conf.default") or key == "net.ipv4.ip_forward":
            run(["sysctl", "-q", "-w", f"{key}={value}"], ns=ns)
    for link in node.links:
        if link.kind in ("nic", "ib", "tunl"):
            wire_idx[0] += 1
            peer = f"w{wire_idx[0]}"
            run(
                [
                    *ipn,
                    "link",
                    "add",
                    link.name,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    peer,
                    "netns",
                    WIRE,
                ]
            )
            run(["ip", "-n", WIRE, "link", "set", peer, "up"])
        elif link.kind == "bridge":
            run([*ipn, "link", "add", "name", link.name, "type", "bridge"])
        elif link.kind == "vxlan":
            run([*ipn, "link", "add", link.name, "type", "vxlan", *link.vxlan])
        if link.mac:
            run([*ipn, "link", "set", link.name, "address", link.mac])
        run([*ipn, "link", "set", link.name, "mtu", str(link.mtu)])
        # a real ipip tunl0 gets no IPv6 at all; a real IPoIB port derives its link-local
        # address from the port GUID. Both sysctls are reset in sysctl.txt (SYSCTL_RESET).
        if link.kind == "tunl":
            run(["sysctl", "-q", "-w", f"net.ipv6.conf.{link.name}.disable_ipv6=1"], ns=ns)
        if link.kind == "ib":
            run(["sysctl", "-q", "-w", f"net.ipv6.conf.{link.name}.addr_gen_mode=1"], ns=ns)
    for pod in node.pods:
        pns = lab.netns(f"{PREFIX}{tag}-{pod.name}"[:60])
        run(["ip", "-n", pns, "link", "set", "lo", "up"])
        run(
            [*ipn, "link", "add", pod.host_if, "type", "veth", "peer", "name", "eth0", "netns", pns]
        )
        run([*ipn, "link", "set", pod.host_if, "address", pod.host_mac, "mtu", str(pod.mtu)])
        run(["ip", "-n", pns, "link", "set", "eth0", "address", pod.pod_mac, "mtu", str(pod.mtu)])
        if pod.bridge:
            run([*ipn, "link", "set", pod.host_if, "master", pod.bridge])
        run([*ipn, "link", "set", pod.host_if, "up"])
        run(["ip", "-n", pns, "link", "set", "eth0", "up"])
        run(["ip", "-n", pns, "addr", "add", f"{pod.ip}/{pod.prefixlen}", "dev", "eth0"])
        for r in pod.pod_routes:
            run(["ip", "-n", pns, "route", "add", *r.split()])
        pod_ns_name = pns
        setattr(pod, "_netns", pod_ns_name)  # noqa: B010
    for link in node.links:
        for a in link.addrs:
            extra = ["brd", "+"] if not a.endswith("/32") else []
            run([*ipn, "addr", "add", a, *extra, "dev", link.name])
        if link.up:
            run([*ipn, "link", "set", link.name, "up"])
        if link.kind == "ib" and link.guid:
            ll = f"{ib_link_local(link.guid)}/64"
            run([*ipn, "-6", "addr", "add", ll, "scope", "link", "dev", link.name])
    for key, value in node.sysctls.items():
        if not (key.startswith("net.ipv4.conf.default") or key == "net.ipv4.ip_forward"):
            run(["sysctl", "-q", "-w", f"{key}={value}"], ns=ns)
    for r in node.routes:
        run([*ipn, "route", "add", *r.split()])
    for n in node.neigh:
        run([*ipn, "neigh", "replace", *n.split()])
    for f in node.fdb:
        run(["bridge", "-n", ns, "fdb", "append", *f.split()])
    for s in node.ipsets:
        run(["ipset", *s], ns=ns)
    if node.iptables:
        script = "set -e\n" + "\n".join(" ".join(shquote(a) for a in c) for c in node.iptables)
        run(["sh", "-c", script], ns=ns)


def shquote(s: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:,+=!-]+", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def ib_link_local(guid: str) -> str:
    """The link-local address the kernel derives from an IPoIB port GUID (modified EUI-64)."""
    g = guid.split(":")[-8:]
    g[0] = f"{int(g[0], 16) ^ 2:02x}"
    return "fe80::" + ":".join(f"{int(g[i] + g[i + 1], 16):x}" for i in range(0, 8, 2))
