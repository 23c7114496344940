"""Read runbooks: ``*.md`` files with YAML front matter between ``---`` lines, then Markdown.

Runbooks layer. The shipped runbooks live in ``netdoctor/runbooks/library/`` (package data); a
team can keep its own folder and pass it with ``--dir``. Reading is lenient about *content*
(a wrong category, a dangling step reference) so that ``runbooks lint`` can report every
defect at once; it is strict about *form* (no front matter, not YAML, a field of the wrong
type), which is recorded as a :class:`Problem` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from netdoctor.errors import InputError, RunbookFileError
from netdoctor.runbooks.model import Branch, Runbook, Step, Trigger

__all__ = [
    "Problem",
    "RunbookFileError",
    "load_dir",
    "load_runbooks",
    "parse_runbook",
    "split_front_matter",
]

_LANGS = ("en", "zh")


@dataclass(frozen=True)
class Problem:
    """A file that could not be read as a runbook, and why (one line; key for other languages)."""

    path: str
    problem: str
    key: str = ""
    params: tuple[tuple[str, str], ...] = ()


class _Bad(Exception):
    """One problem: a catalog key (runbooks.problem.*), its params, and the English detail.

    The error's words come from the catalog; the English detail is what ``runbooks lint -o
    json`` has always reported as the issue's ``problem`` parameter.
    """

    def __init__(self, key: str, text: str, **params: str) -> None:
        super().__init__(text)
        self.key = f"runbooks.problem.{key}"
        self.params = params


def split_front_matter(text: str) -> tuple[str, str]:
    """(front matter, body). The file must start with a ``---`` line and close it with one."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _Bad("start", "does not start with a '---' front matter line")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    raise _Bad("end", "front matter is not closed by a '---' line")


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(x), str) for x in _LANGS):
        raise _Bad("langs", f"{where}: needs 'en' and 'zh' strings", field=where)
    return {x: str(raw[x]).strip() for x in _LANGS}


def _strs(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str | int | float) for x in raw):
        raise _Bad("type", f"{where}: expected a list of strings", field=where, expected="[str]")
    return tuple(str(x) for x in raw)


def _triggers(raw: Any, where: str, default_weight: float) -> tuple[Trigger, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Bad("type", f"{where}: expected a list", field=where, expected="[...]")
    out = []
    for i, t in enumerate(raw):
        if isinstance(t, str):
            out.append(Trigger(term=t, weight=default_weight))
            continue
        if not isinstance(t, dict) or not isinstance(t.get("term"), str):
            raise _Bad(
                "type",
                f"{where}[{i}]: expected a term, or a mapping with 'term'",
                field=f"{where}[{i}]",
                expected="term | {term: ...}",
            )
        weight = t.get("weight", default_weight)
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise _Bad(
                "type",
                f"{where}[{i}].weight: expected a number",
                field=f"{where}[{i}].weight",
                expected="number",
            )
        out.append(
            Trigger(
                term=t["term"],
                weight=float(weight),
                aliases=_strs(t.get("aliases"), f"{where}[{i}].aliases"),
            )
        )
    return tuple(out)


def _branch(raw: Any, where: str) -> tuple[Branch, dict[str, str]]:
    if raw is None:
        return Branch(), {}
    if not isinstance(raw, dict):
        raise _Bad("branch", f"{where}: needs exactly one of 'next' and 'conclude'", field=where)
    nxt, end = raw.get("next"), raw.get("conclude")
    if (nxt is None) == (end is None):
        raise _Bad("branch", f"{where}: needs exactly one of 'next' and 'conclude'", field=where)
    means = _texts(raw["means"], f"{where}.means") if "means" in raw else {}
    return Branch(next=str(nxt) if nxt is not None else None, conclude=end and str(end)), means


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise _Bad(
            "type", f"{where}: expected a mapping with an 'id'", field=where, expected="{id: ...}"
        )
    where = f"{where} ({raw['id']})"
    on_pass, pass_means = _branch(raw.get("pass"), f"{where}.pass")
    on_fail, fail_means = _branch(raw.get("fail"), f"{where}.fail")
    command = raw.get("command") or ""
    if not isinstance(command, str):
        raise _Bad(
            "type", f"{where}.command: expected a string", field=f"{where}.command", expected="str"
        )
    means = {k: v for k, v in (("pass", pass_means), ("fail", fail_means)) if v}
    return Step(
        id=raw["id"],
        title=_texts(raw.get("title"), f"{where}.title"),
        checks=_strs(raw.get("checks"), f"{where}.checks"),
        command=command.strip(),
        on_pass=on_pass,
        on_fail=on_fail,
        means=means,
    )


def parse_runbook(text: str, path: str) -> Runbook:
    """One runbook from its file text; raises InputError naming *path* and the problem."""
    import yaml

    try:
        head, body = split_front_matter(text)
        try:
            fm = yaml.safe_load(head)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" (line {mark.line + 2})" if mark is not None else ""
            raise _Bad("yaml", f"front matter is not valid YAML{at}", at=at) from None
        if not isinstance(fm, dict):
            raise _Bad("mapping", "front matter is not a mapping")
        for key in ("id", "title", "category", "steps"):
            if key not in fm:
                raise _Bad("missing", f"front matter has no '{key}'", field=key)
        if not isinstance(fm["id"], str) or not fm["id"]:
            raise _Bad("type", "'id' must be a non-empty string", field="id", expected="str")
        cni_raw = fm.get("cni", "any")
        cni = () if cni_raw in (None, "any") else _strs(cni_raw, "cni")
        priority = fm.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise _Bad("type", "'priority' must be an integer", field="priority", expected="int")
        steps_raw = fm["steps"]
        if not isinstance(steps_raw, list) or not steps_raw:
            raise _Bad("type", "'steps' must be a non-empty list", field="steps", expected="[...]")
        conclusions_raw = fm.get("conclusions") or {}
        if not isinstance(conclusions_raw, dict):
            raise _Bad(
                "type",
                "'conclusions' must be a mapping of id to en/zh text",
                field="conclusions",
                expected="{id: {en, zh}}",
            )
        return Runbook(
            id=fm["id"],
            title=_texts(fm["title"], "title"),
            category=str(fm["category"]),
            cni=cni,
            priority=priority,
            triggers=_triggers(fm.get("triggers"), "triggers", 1.0),
            exclude=_triggers(fm.get("exclude"), "exclude", 2.0),
            examples=_strs(fm.get("examples"), "examples"),
            counter_examples=_strs(fm.get("counter_examples"), "counter_examples"),
            steps=tuple(_step(s, f"steps[{i}]") for i, s in enumerate(steps_raw)),
            conclusions={str(k): _texts(v, f"conclusions.{k}") for k, v in conclusions_raw.items()},
            body=body.strip(),
            path=path,
        )
    except _Bad as e:
        raise RunbookFileError(path, key=e.key, params=e.params, problem=str(e)) from None


def _files(folder: Path | None) -> Iterable[tuple[str, str]]:
    if folder is None:
        lib = resources.files(__package__).joinpath("library")
        for item in sorted(lib.iterdir(), key=lambda p: p.name):
            if item.name.endswith(".md"):
                yield f"netdoctor/runbooks/library/{item.name}", item.read_text(encoding="utf-8")
        return
    if not folder.is_dir():
        raise InputError(key="runbooks.error.no_dir", params={"path": str(folder)})
    for p in sorted(folder.glob("*.md")):
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(
                key="runbooks.error.unreadable",
                params={"path": str(p), "error": type(e).__name__},
            ) from None
        yield str(p), text


def load_dir(folder: Path | None = None) -> tuple[list[Runbook], list[Problem]]:
    """Every runbook in *folder* (the shipped library when None), and the files that failed."""
    books: list[Runbook] = []
    problems: list[Problem] = []
    for path, text in _files(folder):
        if Path(path).name.lower() == "readme.md":
            continue
        try:
            books.append(parse_runbook(text, path))
        except RunbookFileError as e:
            problems.append(Problem(path, e.problem, e.key or "", tuple(sorted(e.params.items()))))
    return books, problems


def load_runbooks(folder: Path | None = None) -> list[Runbook]:
    """Runbooks for routing and execution: an unreadable file is an input error (exit 2)."""
    books, problems = load_dir(folder)
    if problems:
        p = problems[0]
        raise RunbookFileError(p.path, key=p.key, params=dict(p.params), problem=p.problem)
    ids: set[str] = set()
    for b in books:
        if b.id in ids:
            raise RunbookFileError(b.path, key="runbooks.problem.id_twice", params={"id": b.id})
        ids.add(b.id)
    if not books:
        where = str(folder) if folder is not None else "netdoctor/runbooks/library"
        raise InputError(key="runbooks.error.empty", params={"path": where})
    return books
