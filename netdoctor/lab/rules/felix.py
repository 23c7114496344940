"""Felix's (calico-node) iptables rules for the local workloads."""

from __future__ import annotations

import base64
import hashlib

__all__ = ["felix_hash", "felix_rules"]


def felix_hash(*parts: str) -> str:
    """A 16-character rule id in the style of Felix's ``cali:`` comments (generator-computed)."""
    raw = hashlib.sha256("/".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(raw).decode()[:16]


def felix_rules(workloads: list[tuple[str, str]], tunnel: str = "tunl0") -> list[list[str]]:
    """Felix (iptables dataplane, IPIP) chains; ``workloads`` is [(cali iface, namespace)]."""
    ipt = ["iptables"]
    out: list[list[str]] = []

    def cm(chain: str, *rule: str) -> list[str]:
        return ["-m", "comment", "--comment", f"cali:{felix_hash(chain, *rule)}"]

    def add(table: str, chain: str, *rule: str, insert: int | None = None) -> None:
        op = ["-I", chain, str(insert)] if insert else ["-A", chain]
        # the comment goes right after the matches that come before -m (as Felix renders)
        out.append([*ipt, "-t", table, *op, *_with_comment(list(rule), cm(chain, *rule))])

    def new(table: str, *chains: str) -> None:
        for c in chains:
            out.append([*ipt, "-t", table, "-N", c])

    accept_mark = ["-m", "mark", "--mark", "0x10000/0x10000"]
    # raw
    new(
        "raw",
        "cali-OUTPUT",
        "cali-PREROUTING",
        "cali-from-host-endpoint",
        "cali-rpf-skip",
        "cali-to-host-endpoint",
    )
    add("raw", "PREROUTING", "-j", "cali-PREROUTING", insert=1)
    add("raw", "OUTPUT", "-j", "cali-OUTPUT", insert=1)
    add("raw", "cali-OUTPUT", "-j", "MARK", "--set-xmark", "0x0/0xf0000")
    add("raw", "cali-OUTPUT", "-j", "cali-to-host-endpoint")
    add("raw", "cali-OUTPUT", *accept_mark, "-j", "ACCEPT")
    add("raw", "cali-PREROUTING", "-j", "MARK", "--set-xmark", "0x0/0xf0000")
    add("raw", "cali-PREROUTING", "-i", "cali+", "-j", "MARK", "--set-xmark", "0x40000/0x40000")
    add("raw", "cali-PREROUTING", "-m", "mark", "--mark", "0x40000/0x40000", "-j", "cali-rpf-skip")
    add(
        "raw",
        "cali-PREROUTING",
        "-m",
        "mark",
        "--mark",
        "0x40000/0x40000",
        "-m",
        "rpfilter",
        "--validmark",
        "--invert",
        "-j",
        "DROP",
    )
    add(
        "raw",
        "cali-PREROUTING",
        "-m",
        "mark",
        "--mark",
        "0x0/0x40000",
        "-j",
        "cali-from-host-endpoint",
    )
    add("raw", "cali-PREROUTING", *accept_mark, "-j", "ACCEPT")
    # mangle
    new(
        "mangle",
        "cali-POSTROUTING",
        "cali-PREROUTING",
        "cali-from-host-endpoint",
        "cali-to-host-endpoint",
    )
    add("mangle", "PREROUTING", "-j", "cali-PREROUTING", insert=1)
    add("mangle", "POSTROUTING", "-j", "cali-POSTROUTING", insert=1)
    add("mangle", "cali-POSTROUTING", *accept_mark, "-j", "RETURN")
    add("mangle", "cali-POSTROUTING", "-j", "MARK", "--set-xmark", "0x0/0xf0000")
    add(
        "mangle",
        "cali-POSTROUTING",
        "-m",
        "conntrack",
        "--ctstate",
        "DNAT",
        "-j",
        "cali-to-host-endpoint",
    )
    add("mangle", "cali-POSTROUTING", *accept_mark, "-j", "RETURN")
    add(
        "mangle",
        "cali-PREROUTING",
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        "-j",
        "ACCEPT",
    )
    add("mangle", "cali-PREROUTING", *accept_mark, "-j", "ACCEPT")
    add("mangle", "cali-PREROUTING", "-j", "cali-from-host-endpoint")
    add("mangle", "cali-PREROUTING", *accept_mark, "-j", "ACCEPT")
    # nat
    new(
        "nat",
        "cali-OUTPUT",
        "cali-POSTROUTING",
        "cali-PREROUTING",
        "cali-fip-dnat",
        "cali-fip-snat",
        "cali-nat-outgoing",
    )
    add("nat", "PREROUTING", "-j", "cali-PREROUTING", insert=1)
    add("nat", "OUTPUT", "-j", "cali-OUTPUT", insert=1)
    add("nat", "POSTROUTING", "-j", "cali-POSTROUTING", insert=1)
    add("nat", "cali-OUTPUT", "-j", "cali-fip-dnat")
    add("nat", "cali-POSTROUTING", "-j", "cali-fip-snat")
    add("nat", "cali-POSTROUTING", "-j", "cali-nat-outgoing")
    add(
        "nat",
        "cali-POSTROUTING",
        "-o",
        tunnel,
        "-m",
        "addrtype",
        "!",
        "--src-type",
        "LOCAL",
        "--limit-iface-out",
        "-m",
        "addrtype",
        "--src-type",
        "LOCAL",
        "-j",
        "MASQUERADE",
        "--random-fully",
    )
    add("nat", "cali-PREROUTING", "-j", "cali-fip-dnat")
    add(
        "nat",
        "cali-nat-outgoing",
        "-m",
        "set",
        "--match-set",
        "cali40masq-ipam-pools",
        "src",
        "-m",
        "set",
        "!",
        "--match-set",
        "cali40all-ipam-pools",
        "dst",
        "-j",
        "MASQUERADE",
        "--random-fully",
    )
    # filter
    fw = [(iface, f"cali-fw-{iface}", f"cali-tw-{iface}", ns) for iface, ns in workloads]
    nss = sorted({ns for _, ns in workloads})
    new(
        "filter",
        "cali-FORWARD",
        "cali-INPUT",
        "cali-OUTPUT",
        "cali-cidr-block",
        "cali-from-hep-forward",
        "cali-from-host-endpoint",
        "cali-from-wl-dispatch",
        "cali-to-hep-forward",
        "cali-to-host-endpoint",
        "cali-to-wl-dispatch",
        "cali-wl-to-host",
        *(c for _, f, t, _ in fw for c in (f, t)),
        *(f"cali-pri-kns.{n}" for n in nss),
        *(f"cali-pro-kns.{n}" for n in nss),
        *(f"cali-pri-_{felix_hash('sa', n)[:19]}" for n in nss),
        *(f"cali-pro-_{felix_hash('sa', n)[:19]}" for n in nss),
    )
    add("filter", "INPUT", "-j", "cali-INPUT", insert=1)
    add("filter", "FORWARD", "-j", "cali-FORWARD", insert=1)
    add(
        "filter",
        "FORWARD",
        *accept_mark,
        "-m",
        "comment",
        "--comment",
        "Policy explicitly accepted packet.",
        "-j",
        "ACCEPT",
    )
    add("filter", "FORWARD", "-j", "MARK", "--set-xmark", "0x10000/0x10000")
    add("filter", "OUTPUT", "-j", "cali-OUTPUT", insert=1)
    add("filter", "cali-FORWARD", "-j", "MARK", "--set-xmark", "0x0/0xe0000")
    add(
        "filter",
        "cali-FORWARD",
        "-m",
        "mark",
        "--mark",
        "0x0/0x10000",
        "-j",
        "cali-from-hep-forward",
    )
    add("filter", "cali-FORWARD", "-i", "cali+", "-j", "cali-from-wl-dispatch")
    add("filter", "cali-FORWARD", "-o", "cali+", "-j", "cali-to-wl-dispatch")
    add("filter", "cali-FORWARD", "-j", "cali-to-hep-forward")
    add("filter", "cali-FORWARD", "-j", "cali-cidr-block")
    add(
        "filter",
        "cali-INPUT",
        "-p",
        "4",
        "-m",
        "comment",
        "--comment",
        "Allow IPIP packets from Calico hosts",
        "-m",
        "set",
        "--match-set",
        "cali40all-hosts-net",
        "src",
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        "ACCEPT",
    )
    add(
        "filter",
        "cali-INPUT",
        "-p",
        "4",
        "-m",
        "comment",
        "--comment",
        "Drop IPIP packets from non-Calico hosts",
        "-j",
        "DROP",
    )
    add("filter", "cali-INPUT", "-i", "cali+", "-g", "cali-wl-to-host")
    add("filter", "cali-INPUT", *accept_mark, "-j", "ACCEPT")
    add("filter", "cali-INPUT", "-j", "MARK", "--set-xmark", "0x0/0xf0000")
    add("filter", "cali-INPUT", "-j", "cali-from-host-endpoint")
    add(
        "filter",
        "cali-INPUT",
        *accept_mark,
        "-m",
        "comment",
        "--comment",
        "Host endpoint policy accepted packet.",
        "-j",
        "ACCEPT",
    )
    add("filter", "cali-OUTPUT", *accept_mark, "-j", "ACCEPT")
    add("filter", "cali-OUTPUT", "-o", "cali+", "-j", "RETURN")
    add(
        "filter",
        "cali-OUTPUT",
        "-p",
        "4",
        "-m",
        "comment",
        "--comment",
        "Allow IPIP packets to other Calico hosts",
        "-m",
        "set",
        "--match-set",
        "cali40all-hosts-net",
        "dst",
        "-m",
        "addrtype",
        "--src-type",
        "LOCAL",
        "-j",
        "ACCEPT",
    )
    add("filter", "cali-OUTPUT", "-j", "MARK", "--set-xmark", "0x0/0xf0000")
    add(
        "filter",
        "cali-OUTPUT",
        "-m",
        "conntrack",
        "!",
        "--ctstate",
        "DNAT",
        "-j",
        "cali-to-host-endpoint",
    )
    add(
        "filter",
        "cali-OUTPUT",
        *accept_mark,
        "-m",
        "comment",
        "--comment",
        "Host endpoint policy accepted packet.",
        "-j",
        "ACCEPT",
    )
    for iface, fchain, _, _ in fw:
        add("filter", "cali-from-wl-dispatch", "-i", iface, "-g", fchain)
    add(
        "filter",
        "cali-from-wl-dispatch",
        "-m",
        "comment",
        "--comment",
        "Unknown interface",
        "-j",
        "DROP",
    )
    for iface, _, tchain, _ in fw:
        add("filter", "cali-to-wl-dispatch", "-o", iface, "-g", tchain)
    add(
        "filter",
        "cali-to-wl-dispatch",
        "-m",
        "comment",
        "--comment",
        "Unknown interface",
        "-j",
        "DROP",
    )
    add("filter", "cali-wl-to-host", "-j", "cali-from-wl-dispatch")
    add(
        "filter",
        "cali-wl-to-host",
        "-m",
        "comment",
        "--comment",
        "Configured DefaultEndpointToHostAction",
        "-j",
        "ACCEPT",
    )
    for _iface, fchain, tchain, ns in fw:
        sa = f"_{felix_hash('sa', ns)[:19]}"
        for chain, kind in ((fchain, "pro"), (tchain, "pri")):
            add(
                "filter",
                chain,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            )
            add("filter", chain, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
            add("filter", chain, "-j", "MARK", "--set-xmark", "0x0/0x10000")
            if kind == "pro":
                add(
                    "filter",
                    chain,
                    "-p",
                    "udp",
                    "-m",
                    "comment",
                    "--comment",
                    "Drop VXLAN encapped packets originating in workloads",
                    "-m",
                    "multiport",
                    "--dports",
                    "4789",
                    "-j",
                    "DROP",
                )
                add(
                    "filter",
                    chain,
                    "-p",
                    "4",
                    "-m",
                    "comment",
                    "--comment",
                    "Drop IPinIP encapped packets originating in workloads",
                    "-j",
                    "DROP",
                )
            add("filter", chain, "-j", f"cali-{kind}-kns.{ns}")
            add(
                "filter",
                chain,
                *accept_mark,
                "-m",
                "comment",
                "--comment",
                "Return if profile accepted",
                "-j",
                "RETURN",
            )
            add("filter", chain, "-j", f"cali-{kind}-{sa}")
            add(
                "filter",
                chain,
                *accept_mark,
                "-m",
                "comment",
                "--comment",
                "Return if profile accepted",
                "-j",
                "RETURN",
            )
            add(
                "filter",
                chain,
                "-m",
                "comment",
                "--comment",
                "Drop if no profiles matched",
                "-j",
                "DROP",
            )
    for ns in nss:
        for kind in ("pri", "pro"):
            add("filter", f"cali-{kind}-kns.{ns}", "-j", "MARK", "--set-xmark", "0x10000/0x10000")
            add("filter", f"cali-{kind}-kns.{ns}", *accept_mark, "-j", "RETURN")
    return out


def _with_comment(rule: list[str], comment: list[str]) -> list[str]:
    """Felix puts its ``cali:`` comment after the interface/protocol/address matches."""
    i = 0
    while i < len(rule) and rule[i] in ("-i", "-o", "-p", "-s", "-d", "!"):
        i += 2 if rule[i] != "!" else 1
    return [*rule[:i], *comment, *rule[i:]]
