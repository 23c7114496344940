"""The lab's TCP listener: accepts and closes connections on one port inside a pod's netns.

lab: a source that builds real networks and writes bundles. Started by ``lab up`` with
``ip netns exec <pod netns> python -m netdoctor.lab.listen --port 8080``; prints ``ready`` once
it listens (``ready <pid>``), so the builder knows TCP probes can be answered. It then detaches
(the serving process is a forked child in its own session, so ``lab up`` can exit and leave it
running); ``lab down`` kills it by that pid.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netdoctor.lab.listen")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", args.port))
        srv.listen(128)
        child = os.fork()
        if child:
            sys.stdout.write(f"ready {child}\n")
            sys.stdout.flush()
            os._exit(0)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        while True:
            conn, _ = srv.accept()
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
