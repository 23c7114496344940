"""The check registry: each check is a pure function with a declared identity and data needs.

Checks layer. ``@check("node-ip-forward-disabled", code="NET-101", needs=("node.sysctl",))``
registers a function ``(ctx) -> Iterable[Finding | Note]``. The engine skips a check whose
``needs`` are absent (naming the file), and never lets one check's crash hide the others.
Checks never read files, call the API, or build sentences: they yield data and message keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeAlias

from netdoctor.checks._support.detect import CniInfo, detect_cni
from netdoctor.checks._support.endpoints import Endpoint
from netdoctor.model.findings import Finding, Message
from netdoctor.model.snapshot import Question, Snapshot

__all__ = [
    "REGISTRY",
    "CheckSpec",
    "Context",
    "NotApplicable",
    "Note",
    "Skip",
    "check",
    "family_modules",
    "load_checks",
]


@dataclass(frozen=True)
class Note:
    """Partial coverage: the check ran, but could not look at everything (says what)."""

    message: Message


@dataclass(frozen=True)
class Skip:
    """The check cannot decide: the data it needs is not there (says which)."""

    message: Message


@dataclass(frozen=True)
class NotApplicable:
    """The check does not apply to this cluster (e.g. a Calico check on Flannel)."""


Yielded: TypeAlias = Finding | Note | Skip | NotApplicable
CheckFn: TypeAlias = Callable[["Context"], Iterable[Yielded]]


@dataclass(eq=False)
class Context:
    """What a check sees: the snapshot, the question (if any), and derived facts computed once."""

    snapshot: Snapshot
    question: Question | None = None
    path_nodes: frozenset[str] = field(default_factory=frozenset)
    source: Endpoint | None = None  # the question's --from, resolved (checks/endpoints.py)
    target: Endpoint | None = None  # the question's --to, resolved

    @cached_property
    def cni(self) -> CniInfo:
        return detect_cni(self.snapshot)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    code: str
    fn: CheckFn
    needs: tuple[str, ...]
    cni: tuple[str, ...]  # applies only when one of these CNIs is detected (or none is known)
    family: str  # the family: the first part of ``module`` (calico, overlay, node, ...)
    module: str  # where it is defined, below netdoctor/checks: "calico/address", "node"
    # Whether the check concerns this question at all, decided before its data needs (a
    # Service check has nothing to say about a pod-to-pod question, whatever file is missing).
    applies: Callable[[Context], bool] | None = None

    def run(self, ctx: Context) -> Iterator[Yielded]:
        yield from self.fn(ctx)


REGISTRY: dict[str, CheckSpec] = {}


def check(
    id: str,
    *,
    code: str,
    needs: tuple[str, ...] = (),
    cni: tuple[str, ...] = (),
    applies: Callable[[Context], bool] | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check. ``id`` is the root-cause id it reports; ``code`` its NET-nnn."""

    def register(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"check {id!r} registered twice")
        if any(s.code == code for s in REGISTRY.values()):
            raise ValueError(f"code {code!r} registered twice")
        module = fn.__module__.removeprefix(_PACKAGE + ".").replace(".", "/")
        REGISTRY[id] = CheckSpec(
            id=id,
            code=code,
            fn=fn,
            needs=needs,
            cni=cni,
            family=module.split("/", 1)[0],
            module=module,
            applies=applies,
        )
        return fn

    return register


_PACKAGE = "netdoctor.checks"


def family_modules() -> tuple[str, ...]:
    """Every check module below ``netdoctor.checks``, as dotted names: a family is a module
    (``node``) or a package of topic modules (``calico.address``). ``_support`` and any other
    name starting with ``_`` holds no checks. Adding a check module needs no list edited."""
    import pkgutil
    from importlib import import_module

    found: list[str] = []

    def walk(package: str) -> None:
        for info in pkgutil.iter_modules(import_module(package).__path__):
            if info.name.startswith("_"):
                continue
            name = f"{package}.{info.name}"
            if info.ispkg:
                walk(name)
            else:
                found.append(name)

    walk(_PACKAGE)
    return tuple(sorted(found))


def load_checks() -> dict[str, CheckSpec]:
    """Every check, registered: imports each check module once. Returns ``REGISTRY``.

    The engine, ``netdoctor checks`` and the runbooks call it first, so that importing a
    helper (the trace's, the report's) never pays for every check module."""
    from importlib import import_module

    for name in family_modules():
        import_module(name)
    return REGISTRY
