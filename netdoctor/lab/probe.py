"""Probes between the lab's pods: ICMP echo, TCP connect and a large don't-fragment ping.

lab: a source that builds real networks and writes bundles. ``probe_lab`` starts ONE helper per
source pod, ``ip netns exec <pod netns> python -m netdoctor.lab.probe ...``, which probes every
destination at once from inside that pod's network namespace: ICMP through a raw socket (the
lab runs as root), TCP with non-blocking connects to the listener ``lab up`` started in each pod.
The results are the bundle's ``probes/<from>--<to>-<kind>.json`` records.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdoctor.lab.plan import Plan

__all__ = ["KINDS", "main", "probe_lab"]

KINDS = ("icmp", "tcp", "pmtu")
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_UNREACH = {
    0: "Destination Net Unreachable",
    1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable",
    3: "Destination Port Unreachable",
    9: "Destination Net Prohibited",
    10: "Destination Host Prohibited",
    13: "Packet filtered",
}


# --- the helper, inside one pod's netns -----------------------------------------------------


@dataclass
class _Echo:
    ip: str
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    send_errno: int = 0
    send_error: str = ""


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(int(x) for x in struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(ident: int, seq: int, size: int) -> bytes:
    payload = bytes((i & 0xFF) for i in range(max(0, size - 28)))
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    csum = _checksum(head + payload)
    return struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload


def _icmp(
    targets: Sequence[str], attempts: int, timeout: float, size: int, df: bool, ident: int
) -> list[_Echo]:
    """Echo requests to every target at once; replies and ICMP errors matched by id and seq."""
    echoes = [_Echo(ip) for ip in targets]
    sent_at: dict[int, float] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        if df:
            s.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
        s.setblocking(False)
        deadline = time.monotonic() + timeout
        for k in range(attempts):
            for n, e in enumerate(echoes):
                seq = n * attempts + k + 1
                e.sent += 1
                try:
                    s.sendto(_echo_request(ident, seq, size), (e.ip, 0))
                    sent_at[seq] = time.monotonic()
                except OSError as exc:
                    e.send_errno = exc.errno or 0
                    e.send_error = exc.strerror or str(exc)
                    if exc.errno == errno.EMSGSIZE:
                        mtu = _path_mtu(e.ip)
                        e.send_error = f"local error: message too long, mtu={mtu}"
            deadline = time.monotonic() + timeout
            if k + 1 < attempts:
                _receive(s, echoes, sent_at, ident, attempts, time.monotonic() + 0.2)
        _receive(s, echoes, sent_at, ident, attempts, deadline)
    return echoes


def _path_mtu(ip: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.connect((ip, 9))
            return str(u.getsockopt(socket.IPPROTO_IP, getattr(socket, "IP_MTU", 14)))
        except OSError:
            return "?"


def _receive(
    s: socket.socket,
    echoes: list[_Echo],
    sent_at: dict[int, float],
    ident: int,
    attempts: int,
    deadline: float,
) -> None:
    while True:
        pending = any(e.received + len(e.errors) < e.sent and not e.send_errno for e in echoes)
        left = deadline - time.monotonic()
        if not pending or left <= 0:
            return
        ready, _, _ = select.select([s], [], [], left)
        if not ready:
            return
        try:
            data, addr = s.recvfrom(65535)
        except BlockingIOError:
            continue
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            continue
        typ, code = data[ihl], data[ihl + 1]
        if typ == 0:
            rid, seq = struct.unpack("!HH", data[ihl + 4 : ihl + 8])
            if rid != ident or seq not in sent_at:
                continue
            e = echoes[(seq - 1) // attempts]
            if addr[0] != e.ip:
                continue
            e.received += 1
            e.rtts.append((time.monotonic() - sent_at.pop(seq)) * 1000)
        elif typ in (3, 11):
            inner = data[ihl + 8 :]
            if len(inner) < 28:
                continue
            iihl = (inner[0] & 0x0F) * 4
            if inner[iihl] != 8:
                continue
            rid, seq = struct.unpack("!HH", inner[iihl + 4 : iihl + 8])
            if rid != ident or seq not in sent_at:
                continue
            sent_at.pop(seq)
            e = echoes[(seq - 1) // attempts]
            if typ == 11:
                text = "Time to live exceeded"
            elif code == 4:
                mtu = struct.unpack("!H", data[ihl + 6 : ihl + 8])[0]
                text = f"Frag needed and DF set (mtu = {mtu})"
            else:
                text = _UNREACH.get(code, f"Dest Unreachable, Bad Code: {code}")
            e.errors.append(f"From {addr[0]} icmp_seq={seq} {text}")


def _echo_result(e: _Echo) -> tuple[str, str]:
    loss = 100 - (100 * e.received // e.sent if e.sent else 0)
    summary = f"{e.sent} packets transmitted, {e.received} received, {loss}% packet loss"
    if e.received:
        return "ok", summary
    if e.errors:
        return "unreachable", f"{e.errors[0]}; {summary}"
    if e.send_errno:
        result = {
            errno.ENETUNREACH: "no-route",
            errno.EHOSTUNREACH: "unreachable",
        }.get(e.send_errno, "error")
        return result, f"{e.send_error}; {summary}"
    return "timeout", summary


async def _connect(ip: str, port: int, attempts: int, timeout: float) -> dict[str, Any]:
    result, detail, rtt, tried = "error", "", None, 0
    for _ in range(attempts):
        tried += 1
        t0 = time.monotonic()
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
        except TimeoutError:
            result, detail = "timeout", f"connect to {ip}:{port}: Connection timed out"
            continue
        except ConnectionRefusedError:
            result, detail = "refused", f"connect to {ip}:{port}: Connection refused"
            break
        except OSError as exc:
            result = (
                "unreachable" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "error"
            )
            detail = f"connect to {ip}:{port}: {os.strerror(exc.errno) if exc.errno else exc}"
            continue
        rtt = (time.monotonic() - t0) * 1000
        writer.close()
        result, detail = "ok", f"connected to {ip}:{port} in {rtt:.2f} ms"
        break
    return {
        "attempts": tried,
        "succeeded": 1 if result == "ok" else 0,
        "result": result,
        "detail": detail,
        "rttMs": None if rtt is None else round(rtt, 3),
    }


async def _tcp_all(ips: Sequence[str], port: int, attempts: int, timeout: float) -> list[Any]:
    return list(await asyncio.gather(*(_connect(ip, port, attempts, timeout) for ip in ips)))


def _run_helper(args: argparse.Namespace) -> list[dict[str, Any]]:
    targets = [t.split("=", 1) for t in args.targets]
    ips = [ip for _, ip in targets]
    out: dict[tuple[int, str], dict[str, Any]] = {}
    threads = []

    def echo(kind: str, size: int, df: bool, ident: int) -> None:
        for n, e in enumerate(_icmp(ips, args.attempts, args.timeout, size, df, ident)):
            result, detail = _echo_result(e)
            out[(n, kind)] = {
                "attempts": e.sent,
                "succeeded": e.received,
                "result": result,
                "detail": detail,
                "rttMs": round(sum(e.rtts) / len(e.rtts), 3) if e.rtts else None,
            }

    base = os.getpid() & 0x7FFF
    if "icmp" in args.kinds:
        threads.append(threading.Thread(target=echo, args=("icmp", 84, False, base)))
    if "pmtu" in args.kinds:
        threads.append(threading.Thread(target=echo, args=("pmtu", args.size, True, base | 0x8000)))
    for t in threads:
        t.start()
    if "tcp" in args.kinds:
        for n, r in enumerate(asyncio.run(_tcp_all(ips, args.port, args.attempts, args.timeout))):
            out[(n, "tcp")] = r
    for t in threads:
        t.join()
    rows = []
    for (n, kind), r in sorted(out.items()):
        rows.append({"to": targets[n][0], "ip": targets[n][1], "kind": kind, **r})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netdoctor.lab.probe")
    parser.add_argument("--kinds", default="icmp,tcp")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--attempts", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=1500, help="pmtu: total IP packet size")
    parser.add_argument("targets", nargs="*", help="NAME=IP")
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    json.dump(_run_helper(args), sys.stdout)
    sys.stdout.write("\n")
    return 0


# --- the orchestrator, in the root namespace -------------------------------------------------


def probe_lab(
    plan: Plan,
    *,
    size: int | None = None,
    timeout: float = 1.0,
    attempts: int = 2,
) -> list[dict[str, Any]]:
    """Every pod to every other pod: ICMP, TCP and a don't-fragment ping of ``size`` bytes
    (default: the pods' MTU, a full-size packet), as bundle records."""
    from netdoctor.lab.errors import LabError
    from netdoctor.lab.plan import LISTEN_PORT

    kinds = ["icmp", "tcp", "pmtu"]
    procs = {}
    for src in plan.pods:
        targets = [f"{p.ref}={p.ip}" for p in plan.pods if p is not src]
        if not targets:
            continue
        argv = ["ip", "netns", "exec", src.netns, sys.executable, "-m", "netdoctor.lab.probe"]
        argv += ["--kinds", ",".join(kinds), "--port", str(LISTEN_PORT)]
        argv += ["--attempts", str(attempts), "--timeout", str(timeout)]
        argv += ["--size", str(size or plan.pod_mtu), *targets]
        procs[src.ref] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = []
    limit = attempts * (timeout + 0.5) + 30
    for ref, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            for p in procs.values():
                p.kill()
            raise LabError(f"the probe helper in {ref} did not finish within {limit:g} s") from None
        if proc.returncode != 0:
            err = " ".join(stderr.decode(errors="replace").split())[-400:]
            raise LabError(f"the probe helper in {ref} failed: {err}")
        for row in json.loads(stdout):
            to = {"pod": row["to"], "ip": row["ip"]}
            if row["kind"] == "tcp":
                to.update(port=LISTEN_PORT, protocol="TCP")
            src_name, dst_name = ref.split("/", 1)[1], row["to"].split("/", 1)[1]
            records.append(
                {
                    "name": f"{src_name}--{dst_name}-{row['kind']}",
                    "from": {"pod": ref},
                    "to": to,
                    "kind": row["kind"],
                    "attempts": row["attempts"],
                    "succeeded": row["succeeded"],
                    "result": row["result"],
                    "detail": row["detail"],
                    "rttMs": row["rttMs"],
                    "at": at,
                }
            )
    return records


if __name__ == "__main__":
    sys.exit(main())
