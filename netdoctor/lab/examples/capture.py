"""Capture a built node as a collector would, and patch what the build kernel cannot create."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from netdoctor.lab.examples.bundle import write_json
from netdoctor.lab.examples.netns import Link, NodeNet, run

__all__ = ["VOLATILE_SYSCTLS", "capture_node", "ip_json", "patch_links"]

VOLATILE_SYSCTLS = {
    "fs.dentry-state",
    "fs.file-nr",
    "fs.inode-nr",
    "fs.inode-state",
    "kernel.ns_last_pid",
    "kernel.random.boot_id",
    "kernel.random.entropy_avail",
    "kernel.random.uuid",
}


def ip_json(ns: str, *args: str) -> Any:
    return json.loads(run(["ip", "-j", *args], ns=ns) or "[]")


def patch_links(addrs: list[dict[str, Any]], links: list[Link]) -> list[dict[str, Any]]:
    by_name = {lk.name: lk for lk in links}
    out = []
    for entry in addrs:
        link = by_name.get(entry.get("ifname", ""))
        if link is None or link.kind not in ("nic", "ib", "tunl"):
            out.append(entry)
            continue
        e = dict(entry)
        for k in ("link", "link_index", "link_netnsid", "linkinfo"):
            e.pop(k, None)
        if link.kind == "nic":
            e["qdisc"] = "mq"
            e = _insert_after(e, "max_mtu", {"parentbus": "pci", "parentdev": link.pci})
        elif link.kind == "tunl":
            e = _rebuild(
                e,
                {
                    "link": None,
                    "flags": ["NOARP", "UP", "LOWER_UP"],
                    "qdisc": "noqueue",
                    "operstate": "UNKNOWN",
                    "link_type": "ipip",
                    "address": "0.0.0.0",
                    "broadcast": "0.0.0.0",
                    "min_mtu": 68,
                    "max_mtu": 65515,
                    "linkinfo": {
                        "info_kind": "ipip",
                        "info_data": {
                            "proto": "ipip",
                            "remote": "any",
                            "local": "any",
                            "ttl": 0,
                            "pmtudisc": True,
                        },
                    },
                },
            )
            e["addr_info"] = [a for a in e["addr_info"] if a.get("family") == "inet"]
        elif link.kind == "ib":
            guid = link.guid or ""
            e = _rebuild(
                e,
                {
                    "qdisc": "mq",
                    "link_type": "infiniband",
                    "address": guid,
                    "broadcast": "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff",
                    "min_mtu": 68,
                    "max_mtu": 4092,
                    "linkinfo": {
                        "info_kind": "ipoib",
                        "info_data": {"key": "0xffff", "mode": "datagram", "umcast": "0"},
                    },
                },
            )
            e = _insert_after(e, "gro_max_size", {"parentbus": "pci", "parentdev": link.pci})
        out.append(e)
    return out


def _rebuild(e: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` keeping ``ip -j``'s key order (new keys go before num_tx_queues)."""
    order = [
        "ifindex",
        "link",
        "ifname",
        "flags",
        "mtu",
        "qdisc",
        "operstate",
        "group",
        "txqlen",
        "link_type",
        "address",
        "broadcast",
        "promiscuity",
        "allmulti",
        "min_mtu",
        "max_mtu",
        "linkinfo",
    ]
    merged = {**e, **changes}
    out: dict[str, Any] = {k: merged[k] for k in order if k in merged}
    for k, v in merged.items():
        if k not in out:
            out[k] = v
    return out


def _insert_after(e: dict[str, Any], key: str, extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in e.items():
        out[k] = v
        if k == key:
            out.update(extra)
    if not all(k in out for k in extra):
        out.update(extra)
    return out


def capture_node(node: NodeNet, out: Path, hostname: str, collected: str, fdb: bool) -> None:
    ns = node.netns
    d = out / "nodes" / node.name
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / "ip-addr.json", patch_links(ip_json(ns, "-d", "addr", "show"), node.links))
    write_json(d / "ip-route.json", ip_json(ns, "route", "show", "table", "all"))
    write_json(d / "ip-rule.json", ip_json(ns, "rule", "show"))
    write_json(d / "ip-neigh.json", ip_json(ns, "neigh", "show"))
    if fdb:
        write_json(d / "bridge-fdb.json", json.loads(run(["bridge", "-j", "fdb", "show"], ns=ns)))
    raw = run(
        ["unshare", "--uts", "sh", "-c", f"hostname {hostname}; sysctl -a 2>/dev/null"], ns=ns
    )
    lines = [ln for ln in raw.splitlines() if ln.split(" = ", 1)[0] not in VOLATILE_SYSCTLS]
    for link in node.links:  # undo the stand-in-only sysctls (see build_node)
        for key, value in (("disable_ipv6", "0"), ("addr_gen_mode", "0")):
            k = f"net.ipv6.conf.{link.name}.{key}"
            lines = [f"{k} = {value}" if ln.startswith(f"{k} = ") else ln for ln in lines]
    keys = {ln.split(" = ", 1)[0] for ln in lines}
    if "net.nf_conntrack_max" not in keys:  # only the initial namespace has it
        lines.append("net.nf_conntrack_max = 2097152")
    (d / "sysctl.txt").write_text("\n".join(lines) + "\n")
    ipt = run(["iptables-save"], ns=ns)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.strptime(collected, "%Y-%m-%dT%H:%M:%SZ"))
    ipt = re.sub(
        r"(# (?:Generated by iptables-save v\S+ \(\S+\)|Completed)) on .*", rf"\1 on {stamp}", ipt
    )
    (d / "iptables-save.txt").write_text(ipt)
    for name, text in node.cni.items():
        (d / "cni").mkdir(exist_ok=True)
        (d / "cni" / name).write_text(text)
    for pod in node.pods:
        if pod.capture:
            pns = getattr(pod, "_netns")  # noqa: B009
            pd = out / "pods" / pod.namespace / pod.name
            write_json(pd / "ip-addr.json", ip_json(pns, "-d", "addr", "show"))
            write_json(pd / "ip-route.json", ip_json(pns, "route", "show", "table", "all"))
