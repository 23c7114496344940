"""The catalog owns the words: root-cause pages and every user-facing message, in en and zh.

Sits just above the model. Data lives in YAML beside this module: ``rootcauses/**.yaml`` (one
file per check module, at the same path: ``rootcauses/calico/address.yaml`` holds the ids that
``checks/calico/address.py`` reports; each id with its code, severity, title templates and
documentation sections)
and ``*.yaml`` beside it (``messages.yaml``: report headings, skip reasons, notes; one file per
further area, e.g. ``trace.yaml``). Templates use ``{name}``
placeholders; English and Chinese must use the same set (a test guards it). Checks pass
parameters; the report asks the catalog for the sentence.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final, Literal, cast

from netdoctor.model.findings import Finding, Message, Severity

__all__ = [
    "LANGS",
    "SECTIONS",
    "SERVICE_STEPS",
    "SYMPTOMS",
    "Catalog",
    "Entry",
    "Lang",
    "ServiceStep",
    "default_lang",
    "load_catalog",
    "placeholders",
    "service_steps",
]

Lang = Literal["en", "zh"]
LANGS: Final[tuple[Lang, ...]] = ("en", "zh")
SECTIONS: Final = ("checks", "why", "evidence", "fix", "fix_safety", "known_problems")
# What a client saw (``checks.workload.Symptom``'s values), and what it says of a cause under
# an entry's ``symptoms:`` key: ``first`` ranks the cause first, ``rules-out`` ranks it last.
SYMPTOMS: Final = ("refused", "timeout", "host-unreachable", "net-unreachable", "dns-failure")
SYMPTOM_SAYS: Final = ("first", "rules-out")
# The steps a connection to a Service meets (an entry's ``serviceStep:``): ``dns`` counts only
# when the destination was given as a name.
SERVICE_STEPS: Final = ("dns", "selector", "endpoints", "target-port", "kube-proxy", "policy")


@dataclass(frozen=True)
class ServiceStep:
    """Where a cause sits on the way to a Service: its step and its place in the walk."""

    step: str  # one of SERVICE_STEPS
    order: int  # the walk reports the failing step with the smallest order first


@dataclass(frozen=True)
class Entry:
    """One root cause's page."""

    id: str
    code: str
    severity: Severity
    family: str  # the first part of ``module``
    module: str  # its file below rootcauses/, without .yaml: "calico/address", "node"
    about: Mapping[str, str]  # lang -> one line: what the check looks for
    titles: Mapping[str, Mapping[str, str]]  # variant -> lang -> template
    doc: Mapping[str, Mapping[str, str]]  # section -> lang -> text
    references: tuple[str, ...]
    messages: Mapping[str, Mapping[str, str]]  # key -> lang -> template
    symptoms: Mapping[str, str] = field(default_factory=dict)  # symptom -> "first" | "rules-out"
    service_step: ServiceStep | None = None


class _Keep(dict[str, str]):
    """format_map helper: an unknown placeholder stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def placeholders(template: str) -> frozenset[str]:
    return frozenset(
        name for _, name, _, _ in string.Formatter().parse(template) if name is not None
    )


class Catalog:
    def __init__(self, entries: Mapping[str, Entry], messages: Mapping[str, Mapping[str, str]]):
        self.entries = dict(entries)
        self.by_code = {e.code: e for e in entries.values()}
        self.messages: dict[str, Mapping[str, str]] = dict(messages)
        for e in entries.values():
            for key, texts in e.messages.items():
                if key in self.messages:
                    raise ValueError(f"catalog message {key!r} defined twice")
                self.messages[key] = texts

    def entry(self, id_or_code: str) -> Entry | None:
        return self.entries.get(id_or_code) or self.by_code.get(id_or_code.upper())

    def text(self, key: str, lang: Lang, params: Mapping[str, str] | None = None) -> str:
        texts = self.messages.get(key)
        if texts is None:
            return key
        template = texts.get(lang) or texts.get("en") or key
        return template.format_map(_Keep(params or {}))

    def render(self, message: Message, lang: Lang) -> str:
        return self.text(message.key, lang, message.params)

    def title(self, finding: Finding, lang: Lang) -> str:
        entry = self.entries.get(finding.id)
        if entry is None:
            return finding.id
        variant = entry.titles.get(finding.variant) or entry.titles["default"]
        return variant.get(lang, variant["en"]).format_map(_Keep(finding.params))

    def severity(self, finding: Finding) -> Severity:
        if finding.severity is not None:
            return finding.severity
        entry = self.entries.get(finding.id)
        return entry.severity if entry else Severity.WARNING


# YAML folds a wrapped line into a space; Chinese puts none between characters.
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_FOLDED_SPACE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(lang), str) for lang in LANGS):
        raise ValueError(f"catalog {where}: needs 'en' and 'zh' strings")
    texts: dict[str, str] = {lang: cast(str, raw[lang]) for lang in LANGS}
    texts["zh"] = _FOLDED_SPACE.sub("", texts["zh"])
    return texts


def _load_yaml(text: str) -> Any:
    import yaml

    # The catalog is this package's own data, so libyaml's C loader is safe here (bundles,
    # which come from elsewhere, are read differently: netdoctor.parsers.kube.load_yaml).
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _rootcause_files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """``(module, file)`` for every ``*.yaml`` below ``rootcauses/``, sorted: the module is the
    path without ``.yaml`` and names the check module that reports its ids (a test says so)."""
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.is_dir():
            yield from _rootcause_files(item, f"{prefix}{item.name}/")
        elif item.name.endswith(".yaml"):
            yield prefix + item.name.removesuffix(".yaml"), item


@cache
def load_catalog() -> Catalog:
    """Load the packaged catalog (once per process)."""
    root = resources.files(__package__)
    entries: dict[str, Entry] = {}
    for module, item in _rootcause_files(root.joinpath("rootcauses")):
        data = _load_yaml(item.read_text(encoding="utf-8")) or {}
        for id_, raw in data.items():
            where = f"rootcauses/{module}.yaml: {id_}"
            titles = {v: _texts(t, f"{where} title {v}") for v, t in raw["title"].items()}
            doc = {s: _texts(raw["doc"][s], f"{where} doc {s}") for s in SECTIONS}
            msgs = {
                k: _texts(t, f"{where} message {k}") for k, t in (raw.get("messages") or {}).items()
            }
            if id_ in entries:
                raise ValueError(f"catalog {where}: defined twice")
            entries[id_] = Entry(
                id=id_,
                code=str(raw["code"]),
                severity=Severity(raw["severity"]),
                family=module.split("/", 1)[0],
                module=module,
                about=_texts(raw["about"], f"{where} about"),
                titles=titles,
                doc=doc,
                references=tuple(raw["doc"].get("references") or ()),
                messages=msgs,
                symptoms=_symptoms(raw.get("symptoms"), where),
                service_step=_service_step(raw.get("serviceStep"), where),
            )
    # messages.yaml, and one file per area beside it (trace.yaml, ...): one key, one file.
    messages: dict[str, dict[str, str]] = {}
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        raw_msgs = _load_yaml(item.read_text(encoding="utf-8")) or {}
        for k, v in raw_msgs.items():
            if k in messages:
                raise ValueError(f"catalog message {k!r} defined twice ({item.name})")
            messages[k] = _texts(v, f"{item.name}: {k}")
    return Catalog(entries, messages)


def _symptoms(raw: Any, where: str) -> Mapping[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"catalog {where}: symptoms must map a symptom to first or rules-out")
    for name, says in raw.items():
        if name not in SYMPTOMS:
            raise ValueError(f"catalog {where}: symptoms: unknown symptom {name!r}")
        if says not in SYMPTOM_SAYS:
            raise ValueError(
                f"catalog {where}: symptoms.{name}: {says!r} is not first or rules-out"
            )
    return {str(k): str(v) for k, v in raw.items()}


def _service_step(raw: Any, where: str) -> ServiceStep | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or set(raw) != {"step", "order"}
        or raw["step"] not in SERVICE_STEPS
        or not isinstance(raw["order"], int)
    ):
        raise ValueError(
            f"catalog {where}: serviceStep must be {{step: one of {', '.join(SERVICE_STEPS)},"
            " order: a number}"
        )
    return ServiceStep(step=raw["step"], order=raw["order"])


def service_steps(catalog: Catalog) -> tuple[tuple[str, ServiceStep], ...]:
    """The causes on the way to a Service, in the walk's order: (id, step)."""
    steps = [(e.id, e.service_step) for e in catalog.entries.values() if e.service_step]
    ordered = sorted(steps, key=lambda x: x[1].order)
    orders = [s.order for _, s in ordered]
    if len(set(orders)) != len(orders):
        raise ValueError("catalog: two causes share a serviceStep order")
    return tuple(ordered)


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """``zh`` when the locale says Chinese (LC_ALL, then LC_MESSAGES, then LANG), else ``en``."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"
