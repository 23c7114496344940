"""kube-proxy's iptables rules (mode iptables) for a list of Service ports."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SvcPort", "kube_hash", "kube_proxy_rules", "kubeadm_service_ports"]


def kube_hash(s: str) -> str:
    """kube-proxy's portProtoHash: base32(sha256(...))[:16]."""
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]


@dataclass
class SvcPort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP/UDP
    cluster_ip: str
    port: int
    endpoints: list[tuple[str, int]]  # (ip, targetPort)
    node_port: int | None = None


def kube_proxy_rules(svcs: list[SvcPort], cluster_cidr: str) -> list[list[str]]:
    r: list[list[str]] = []
    ipt = ["iptables"]
    for t in ("mangle", "nat", "filter"):
        r.append([*ipt, "-t", t, "-N", "KUBE-PROXY-CANARY"])
    for c in (
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "KUBE-PROXY-FIREWALL",
        "KUBE-SERVICES",
    ):
        r.append([*ipt, "-N", c])
    cm = ["-m", "comment", "--comment"]
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    r += [
        [
            *ipt,
            "-I",
            "INPUT",
            "1",
            *new,
            *cm,
            "kubernetes externally-visible service portals",
            "-j",
            "KUBE-EXTERNAL-SERVICES",
        ],
        [
            *ipt,
            "-I",
            "INPUT",
            "1",
            *cm,
            "kubernetes health check service ports",
            "-j",
            "KUBE-NODEPORTS",
        ],
        [
            *ipt,
            "-I",
            "INPUT",
            "1",
            *new,
            *cm,
            "kubernetes load balancer firewall",
            "-j",
            "KUBE-PROXY-FIREWALL",
        ],
        [
            *ipt,
            "-A",
            "FORWARD",
            *new,
            *cm,
            "kubernetes load balancer firewall",
            "-j",
            "KUBE-PROXY-FIREWALL",
        ],
        [*ipt, "-A", "FORWARD", *cm, "kubernetes forwarding rules", "-j", "KUBE-FORWARD"],
        [*ipt, "-A", "FORWARD", *new, *cm, "kubernetes service portals", "-j", "KUBE-SERVICES"],
        [
            *ipt,
            "-A",
            "FORWARD",
            *new,
            *cm,
            "kubernetes externally-visible service portals",
            "-j",
            "KUBE-EXTERNAL-SERVICES",
        ],
        [*ipt, "-I", "OUTPUT", "1", *new, *cm, "kubernetes service portals", "-j", "KUBE-SERVICES"],
        [
            *ipt,
            "-I",
            "OUTPUT",
            "1",
            *new,
            *cm,
            "kubernetes load balancer firewall",
            "-j",
            "KUBE-PROXY-FIREWALL",
        ],
        [*ipt, "-A", "KUBE-FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"],
        [
            *ipt,
            "-A",
            "KUBE-FORWARD",
            *cm,
            "kubernetes forwarding rules",
            "-m",
            "mark",
            "--mark",
            "0x4000/0x4000",
            "-j",
            "ACCEPT",
        ],
        [
            *ipt,
            "-A",
            "KUBE-FORWARD",
            *cm,
            "kubernetes forwarding conntrack rule",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ],
    ]
    nat = [*ipt, "-t", "nat"]
    for c in ("KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-SERVICES"):
        r.append([*nat, "-N", c])
    r += [
        [*nat, "-A", "PREROUTING", *cm, "kubernetes service portals", "-j", "KUBE-SERVICES"],
        [*nat, "-A", "OUTPUT", *cm, "kubernetes service portals", "-j", "KUBE-SERVICES"],
        [*nat, "-A", "POSTROUTING", *cm, "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"],
        [*nat, "-A", "KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", "0x4000"],
        [
            *nat,
            "-A",
            "KUBE-POSTROUTING",
            "-m",
            "mark",
            "!",
            "--mark",
            "0x4000/0x4000",
            "-j",
            "RETURN",
        ],
        [*nat, "-A", "KUBE-POSTROUTING", "-j", "MARK", "--xor-mark", "0x4000"],
        [
            *nat,
            "-A",
            "KUBE-POSTROUTING",
            *cm,
            "kubernetes service traffic requiring SNAT",
            "-j",
            "MASQUERADE",
            "--random-fully",
        ],
    ]
    chains: list[list[str]] = []
    rules: list[list[str]] = []
    for s in sorted(svcs, key=lambda s: (s.namespace, s.name, s.port_name)):
        spn = f"{s.namespace}/{s.name}" + (f":{s.port_name}" if s.port_name else "")
        proto = s.protocol.lower()
        h = kube_hash(spn + proto)
        svc_chain = f"KUBE-SVC-{h}"
        if not s.endpoints:
            continue
        chains.append([*nat, "-N", svc_chain])
        pm = ["-p", proto, "-m", proto, "--dport", str(s.port)]
        rules.append(
            [
                *nat,
                "-A",
                "KUBE-SERVICES",
                "-d",
                f"{s.cluster_ip}/32",
                *cm,
                f"{spn} cluster IP",
                *pm,
                "-j",
                svc_chain,
            ]
        )
        rules.append(
            [
                *nat,
                "-A",
                svc_chain,
                "!",
                "-s",
                cluster_cidr,
                "-d",
                f"{s.cluster_ip}/32",
                *cm,
                f"{spn} cluster IP",
                *pm,
                "-j",
                "KUBE-MARK-MASQ",
            ]
        )
        if s.node_port:
            ext = f"KUBE-EXT-{h}"
            chains.append([*nat, "-N", ext])
            rules.append(
                [
                    *nat,
                    "-A",
                    "KUBE-NODEPORTS",
                    *cm,
                    spn,
                    "-p",
                    proto,
                    "-m",
                    proto,
                    "--dport",
                    str(s.node_port),
                    "-j",
                    ext,
                ]
            )
            rules.append(
                [
                    *nat,
                    "-A",
                    ext,
                    *cm,
                    f"masquerade traffic for {spn} external destinations",
                    "-j",
                    "KUBE-MARK-MASQ",
                ]
            )
            rules.append([*nat, "-A", ext, "-j", svc_chain])
        n = len(s.endpoints)
        for i, (ip, tp) in enumerate(s.endpoints):
            ep = f"{ip}:{tp}"
            sep = f"KUBE-SEP-{kube_hash(spn + proto + ep)}"
            chains.append([*nat, "-N", sep])
            stat: list[str] = []
            if i < n - 1:
                stat = [
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    f"{1.0 / (n - i):.11f}",
                ]
            rules.append([*nat, "-A", svc_chain, *cm, f"{spn} -> {ep}", *stat, "-j", sep])
            rules.append([*nat, "-A", sep, "-s", f"{ip}/32", *cm, spn, "-j", "KUBE-MARK-MASQ"])
            rules.append(
                [
                    *nat,
                    "-A",
                    sep,
                    "-p",
                    proto,
                    *cm,
                    spn,
                    "-m",
                    proto,
                    "-j",
                    "DNAT",
                    "--to-destination",
                    ep,
                ]
            )
    rules.append(
        [
            *nat,
            "-A",
            "KUBE-SERVICES",
            *cm,
            "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "KUBE-NODEPORTS",
        ]
    )
    return r + chains + rules


def kubeadm_service_ports(
    service_ip: Callable[[int], str], api: str, dns: tuple[str, str]
) -> list[SvcPort]:
    """The Service ports every kubeadm cluster has: default/kubernetes and kube-system/kube-dns.

    ``service_ip(n)`` is the n-th address of the Service CIDR (kubernetes is 1, kube-dns 10),
    ``api`` the API server's address, ``dns`` the two CoreDNS pods' addresses.
    """
    kdns = service_ip(10)
    return [
        SvcPort("default", "kubernetes", "https", "TCP", service_ip(1), 443, [(api, 6443)]),
        SvcPort("kube-system", "kube-dns", "dns", "UDP", kdns, 53, [(dns[0], 53), (dns[1], 53)]),
        SvcPort(
            "kube-system", "kube-dns", "dns-tcp", "TCP", kdns, 53, [(dns[0], 53), (dns[1], 53)]
        ),
        SvcPort(
            "kube-system",
            "kube-dns",
            "metrics",
            "TCP",
            kdns,
            9153,
            [(dns[0], 9153), (dns[1], 9153)],
        ),
    ]
