"""kubelet's own iptables rules (KUBE-FIREWALL, KUBE-KUBELET-CANARY)."""

from __future__ import annotations

__all__ = ["kubelet_rules"]


def kubelet_rules() -> list[list[str]]:
    r: list[list[str]] = []
    for t in ("mangle", "nat", "filter"):
        r.append(["iptables", "-t", t, "-N", "KUBE-KUBELET-CANARY"])
    r += [
        ["iptables", "-t", "filter", "-N", "KUBE-FIREWALL"],
        ["iptables", "-A", "INPUT", "-j", "KUBE-FIREWALL"],
        ["iptables", "-A", "OUTPUT", "-j", "KUBE-FIREWALL"],
        [
            "iptables",
            "-A",
            "KUBE-FIREWALL",
            "!",
            "-s",
            "127.0.0.0/8",
            "-d",
            "127.0.0.0/8",
            "-m",
            "comment",
            "--comment",
            "block incoming localnet connections",
            "-m",
            "conntrack",
            "!",
            "--ctstate",
            "RELATED,ESTABLISHED,DNAT",
            "-j",
            "DROP",
        ],
    ]
    return r
