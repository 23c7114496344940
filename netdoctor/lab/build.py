"""Building and removing a lab: namespaces, veths, bridges, VXLAN, routes, sysctls, iptables.

lab: a source that builds real networks and writes bundles. ``Lab.up`` turns a ``Plan`` into
kernel state with ``ip``/``bridge``/``sysctl``/``iptables-restore``; whatever happens half-way
(a failed command, Ctrl-C, SIGTERM), everything with the lab's prefix is removed again.
State lives in ``/run/netdoctor-lab/<name>.json`` so that later commands find the lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from netdoctor.lab.errors import LabError, LabUsageError
from netdoctor.lab.plan import (
    LISTEN_PORT,
    FaultName,
    LayoutName,
    NodePlan,
    Plan,
    PodPlan,
    make_plan,
)
from netdoctor.lab.run import batch, require_root, run

__all__ = ["PREFIX", "STATE_DIR", "Lab", "LabState", "leftovers", "remove_all"]

PREFIX = "ndl"
STATE_DIR = Path(os.environ.get("NETDOCTOR_LAB_STATE", "/run/netdoctor-lab"))
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_HELPER_MODULES = ("netdoctor.lab.listen", "netdoctor.lab.probe")


@dataclass(frozen=True)
class LabState:
    """What ``up`` recorded: enough to rebuild the plan and find every process."""

    name: str
    prefix: str
    layout: str
    nodes: int
    pods_per_node: int
    faults: tuple[str, ...]
    created_at: str
    listeners: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "layout": self.layout,
            "nodes": self.nodes,
            "podsPerNode": self.pods_per_node,
            "faults": list(self.faults),
            "createdAt": self.created_at,
            "listeners": self.listeners,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        return cls(
            name=str(data["name"]),
            prefix=str(data["prefix"]),
            layout=str(data["layout"]),
            nodes=int(data["nodes"]),
            pods_per_node=int(data["podsPerNode"]),
            faults=tuple(str(f) for f in data.get("faults", ())),
            created_at=str(data.get("createdAt", "")),
            listeners={str(k): int(v) for k, v in dict(data.get("listeners", {})).items()},
        )


class Lab:
    """One lab: its plan, and the processes it started."""

    def __init__(self, plan: Plan, created_at: str = "", listeners: dict[str, int] | None = None):
        self.plan = plan
        self.created_at = created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.listeners: dict[str, int] = dict(listeners or {})

    # --- naming and state -----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.plan.name

    @staticmethod
    def state_path(name: str) -> Path:
        return STATE_DIR / f"{name}.json"

    @staticmethod
    def probes_path(name: str) -> Path:
        return STATE_DIR / f"{name}.probes.json"

    @property
    def state(self) -> LabState:
        p = self.plan
        return LabState(
            name=p.name,
            prefix=p.prefix,
            layout=p.layout.value,
            nodes=len(p.nodes),
            pods_per_node=len(p.nodes[0].pods) if p.nodes else 0,
            faults=tuple(f.value for f in p.faults),
            created_at=self.created_at,
            listeners=self.listeners,
        )

    def save(self) -> None:
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(STATE_DIR, 0o700)
        path = self.state_path(self.name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state.to_json(), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, name: str | None = None) -> Lab:
        """The lab called ``name``; without a name, the only lab there is."""
        if name is None:
            names = cls.names()
            if not names:
                raise LabUsageError("no lab is running (start one with 'netdoctor lab up LAYOUT')")
            if len(names) > 1:
                raise LabUsageError(f"several labs are running ({', '.join(names)}): name one")
            name = names[0]
        path = cls.state_path(name)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabUsageError(f"no lab named {name!r} (see 'netdoctor lab list')") from None
        except (OSError, ValueError) as e:
            raise LabError(f"{path}: unreadable lab state: {e}") from None
        st = LabState.from_json(data)
        plan = make_plan(
            st.name,
            st.prefix,
            LayoutName(st.layout),
            st.nodes,
            st.pods_per_node,
            tuple(FaultName(f) for f in st.faults),
        )
        return cls(plan, st.created_at, st.listeners)

    @staticmethod
    def names() -> list[str]:
        if not STATE_DIR.is_dir():
            return []
        return sorted(
            p.stem for p in STATE_DIR.glob("*.json") if not p.name.endswith(".probes.json")
        )

    # --- life cycle -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        layout: LayoutName,
        nodes: int = 2,
        pods_per_node: int = 2,
        faults: tuple[FaultName, ...] = (),
        name: str | None = None,
    ) -> Lab:
        """Plan and build a lab; on any failure or signal, remove what was built and re-raise."""
        require_root()
        prefix = cls._free_prefix()
        lab_name = name or prefix.rstrip("-")
        if not _NAME.match(lab_name):
            raise LabUsageError(
                f"--name {lab_name!r}: use lower-case letters, digits and '-' (at most 40)"
            )
        if cls.state_path(lab_name).exists():
            raise LabUsageError(f"--name {lab_name!r}: a lab with that name is running")
        lab = cls(make_plan(lab_name, prefix, layout, nodes, pods_per_node, faults))
        lab.up()
        return lab

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        layout: LayoutName,
        nodes: int = 2,
        pods_per_node: int = 2,
        faults: tuple[FaultName, ...] = (),
        name: str | None = None,
    ) -> Iterator[Lab]:
        """A lab for the duration of a ``with`` block (tests); always removed afterwards."""
        lab = cls.create(layout, nodes, pods_per_node, faults, name)
        try:
            yield lab
        finally:
            lab.down()

    @staticmethod
    def _free_prefix() -> str:
        taken = set(_netns_list())
        while True:
            prefix = f"{PREFIX}{secrets.token_hex(2)}-"
            if not any(n.startswith(prefix) for n in taken):
                return prefix

    def up(self) -> None:
        """Build the plan. SIGTERM during the build is turned into KeyboardInterrupt so that the
        clean-up below runs; the previous handler is restored afterwards."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self.save()
            _build(self)
            self.save()
        except BaseException:
            with contextlib.suppress(Exception):
                self.down()
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def down(self) -> None:
        """Stop the lab's processes, delete its namespaces (their veths go with them), forget it."""
        _kill(self.listeners.values())
        _remove_prefix(self.plan.prefix)
        for path in (self.state_path(self.name), self.probes_path(self.name)):
            path.unlink(missing_ok=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --- building ------------------------------------------------------------------------------


def _build(lab: Lab) -> None:
    plan = lab.plan
    batch("ip", None, [f"netns add {ns}" for ns in plan.namespaces])
    u = plan.underlay_ns
    batch(
        "ip",
        u,
        [
            "link set dev lo up",
            "link add br0 type bridge",
            "link set dev br0 up",
            "addr add 10.6.131.1/24 dev br0",
            "link add br1 type bridge",
            "link set dev br1 up",
        ],
    )
    # The underlay's gateway routes (and answers "net unreachable" for what it does not know).
    _sysctl(u, {"net.ipv4.ip_forward": "1"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: _build_node(plan, n), plan.nodes))
    lab.listeners = _start_listeners(plan)


def _build_node(plan: Plan, node: NodePlan) -> None:
    u = plan.underlay_ns
    i = node.index
    lines = ["link set dev lo up", f"link add eth0 type veth peer name n{i}e0 netns {u}"]
    attach = [f"link set dev n{i}e0 master br0", f"link set dev n{i}e0 up"]
    for ifname, _cidr, bridge in node.extra_ifaces:
        peer = f"n{i}{ifname}"
        lines.append(f"link add {ifname} type veth peer name {peer} netns {u}")
        if bridge:
            attach.append(f"link set dev {peer} master {bridge}")
        attach.append(f"link set dev {peer} up")
    lines += [f"addr add {node.ip}/24 dev eth0", "link set dev eth0 up"]
    for ifname, cidr, _bridge in node.extra_ifaces:
        lines += [f"addr add {cidr} dev {ifname}", f"link set dev {ifname} up"]
    via, dev = node.default_via
    lines.append(f"route add default via {via} dev {dev} proto static")
    if plan.layout.overlay:
        lines += [
            f"link add {plan.vtep} address {node.vtep_mac} mtu {plan.vtep_mtu} type vxlan"
            f" id {plan.vni} local {node.public_ip} dev {node.public_iface}"
            f" dstport {plan.vxlan_port} nolearning",
            f"addr add {node.tunnel_ip}/32 dev {plan.vtep}",
            f"link set dev {plan.vtep} up",
        ]
    if plan.cni == "flannel":
        lines += [
            f"link add cni0 mtu {plan.pod_mtu} type bridge",
            f"addr add {node.gateway}/24 dev cni0",
            "link set dev cni0 up",
        ]
    else:
        proto = "80" if plan.layout.overlay else "bird"
        lines.append(f"route add blackhole {node.subnet} proto {proto}")
    for pod in node.pods:
        lines += _pod_host_lines(plan, pod)
    for ip, mac in node.neighbours:
        lines.append(f"neigh add {ip} lladdr {mac} dev {plan.vtep} nud permanent")
    lines += [f"route add {' '.join(r.words)}" for r in node.peer_routes]
    lines += [f"route add {' '.join(r.words)}" for r in node.extra_routes]
    batch("ip", node.netns, lines)
    batch("ip", u, attach)
    batch(
        "bridge",
        node.netns,
        [f"fdb append {mac} dev {plan.vtep} dst {dst} self permanent" for mac, dst in node.fdb],
    )
    for pod in node.pods:
        batch("ip", pod.netns, _pod_lines(plan, node, pod))
    sysctls = dict(node.sysctls)
    forward = sysctls.pop("net.ipv4.ip_forward")
    if forward == "0":
        _sysctl(node.netns, {"net.ipv4.ip_forward": "1", **sysctls})
    sysctls["net.ipv4.ip_forward"] = forward  # last: writing it resets every conf.*.forwarding
    _sysctl(node.netns, sysctls)
    run(["ip", "netns", "exec", node.netns, "iptables-restore", "--noflush"], stdin=_rules(node))


def _pod_host_lines(plan: Plan, pod: PodPlan) -> list[str]:
    mtu = plan.pod_mtu
    if plan.cni == "flannel":
        return [
            f"link add {pod.host_veth} mtu {mtu} type veth peer name eth0 address {pod.mac}"
            f" mtu {mtu} netns {pod.netns}",
            f"link set dev {pod.host_veth} master cni0",
            f"link set dev {pod.host_veth} type bridge_slave hairpin on",
            f"link set dev {pod.host_veth} up",
        ]
    return [
        f"link add {pod.host_veth} address ee:ee:ee:ee:ee:ee mtu {mtu} type veth"
        f" peer name eth0 address {pod.mac} mtu {mtu} netns {pod.netns}",
        f"link set dev {pod.host_veth} up",
        f"route add {pod.ip} dev {pod.host_veth} scope link",
    ]


def _pod_lines(plan: Plan, node: NodePlan, pod: PodPlan) -> list[str]:
    if plan.cni == "flannel":
        return [
            "link set dev lo up",
            f"addr add {pod.ip}/24 dev eth0",
            "link set dev eth0 up",
            f"route add default via {node.gateway} dev eth0",
            f"route add {plan.cluster_cidr} via {node.gateway} dev eth0",
        ]
    return [
        "link set dev lo up",
        f"addr add {pod.ip}/32 dev eth0",
        "link set dev eth0 up",
        "route add 169.254.1.1 dev eth0 scope link",
        "route add default via 169.254.1.1 dev eth0",
    ]


def _in(netns: str) -> list[str]:
    return ["ip", "netns", "exec", netns]


def _sysctl(netns: str, values: dict[str, str]) -> None:
    if values:
        run(
            ["ip", "netns", "exec", netns, "sysctl", "-q", "-w"]
            + [f"{k}={v}" for k, v in values.items()]
        )


def _rules(node: NodePlan) -> str:
    out = []
    for table, lines in node.iptables.items():
        chains = [ln for ln in lines if ln.startswith(":")]
        rules = [ln for ln in lines if not ln.startswith(":")]
        out += [f"*{table}", *chains, *rules, "COMMIT"]
    return "\n".join(out) + "\n"


def _start_listeners(plan: Plan) -> dict[str, int]:
    """One tiny TCP server per pod (``python -m netdoctor.lab.listen``), ready before we return."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for pod in plan.pods:
        procs[pod.ref] = subprocess.Popen(
            [
                *_in(pod.netns),
                sys.executable,
                "-m",
                "netdoctor.lab.listen",
                "--port",
                str(LISTEN_PORT),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    pids: dict[str, int] = {}
    try:
        for ref, p in procs.items():
            out, err = p.communicate(timeout=30)
            words = out.split()
            if p.returncode != 0 or len(words) != 2 or words[0] != b"ready":
                text = " ".join(err.decode(errors="replace").split())
                raise LabError(f"the TCP listener in {ref} did not start: {text}")
            pids[ref] = int(words[1])
    except BaseException:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        _kill(pids.values())
        raise
    return pids


# --- removing ------------------------------------------------------------------------------


def _netns_list() -> list[str]:
    out = run(["ip", "-j", "netns", "list"], check=False).strip()
    if not out:
        return []
    try:
        return [str(e["name"]) for e in json.loads(out)]
    except (ValueError, KeyError, TypeError):
        return []


def _is_helper(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(m.encode() in cmd for m in _HELPER_MODULES)


def _kill(pids: Iterator[int] | Any) -> None:
    """SIGKILL the lab's helper processes (only those: a recycled pid is left alone)."""
    for pid in pids:
        if _is_helper(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _remove_prefix(prefix: str) -> list[str]:
    """Kill every process inside the prefix's namespaces, then delete them."""
    gone = [ns for ns in _netns_list() if ns.startswith(prefix)]
    for ns in gone:
        pids = run(["ip", "netns", "pids", ns], check=False).split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    if gone:
        done = subprocess.run(
            ["ip", "-force", "-batch", "-"],
            input="".join(f"netns del {ns}\n" for ns in gone),
            capture_output=True,
            text=True,
            check=False,
        )
        left = [ns for ns in _netns_list() if ns in gone]
        if left:
            raise LabError(f"could not delete {', '.join(left)}: {' '.join(done.stderr.split())}")
    return gone


def leftovers() -> dict[str, list[str]]:
    """What an ``ndl`` lab left behind: namespaces, root-namespace links, helper processes."""
    ns = [n for n in _netns_list() if n.startswith(PREFIX)]
    links_out = run(["ip", "-j", "link", "show"], check=False).strip()
    links = [
        str(e.get("ifname", ""))
        for e in (json.loads(links_out) if links_out else [])
        if str(e.get("ifname", "")).startswith(PREFIX)
    ]
    procs = [
        p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _is_helper(int(p.name))
    ]
    return {"namespaces": ns, "links": links, "processes": procs}


def remove_all() -> list[str]:
    """``lab down --all``: every ``ndl`` namespace, helper process and state file."""
    require_root()
    removed = _remove_prefix(PREFIX)
    _kill(int(p) for p in leftovers()["processes"])
    if STATE_DIR.is_dir():
        for path in STATE_DIR.glob("*.json"):
            path.unlink(missing_ok=True)
    return removed
