r"""Scenario corpus: each ``NN_what_is_broken/case.yaml`` is a shipped example plus the changes a
real fault makes, and the exact diagnosis netdoctor must give for it.

A case names a ``base`` bundle under ``examples/``, overlay ``files``, files to ``remove``, RFC 7386
merge ``patch``es on single items of ``kubectl get -o json`` Lists, an optional ``question``
(written into ``bundle.yaml``), and the ``expect`` block. The bundle is built in ``tmp_path`` and
diagnosed in-process, in English and Chinese. Unknown keys anywhere in a case are an error, so a
typo cannot make a case pass.

``files`` lists bundle paths (``nodes/l20-gpu-05/sysctl.txt``); the case folder holds each one in
one of two forms, so a reviewer sees the fault in the case folder:

- ``nodes/l20-gpu-05/sysctl.txt.diff``: a unified diff (``--- a/<path>``, ``+++ b/<path>``, then
  ``@@`` hunks with 3 lines of context, ``\ No newline at end of file`` where needed) against the
  base file, the form for a change to part of a text or JSON file. It is applied strictly, with no
  offset or fuzz: every context and ``-`` line must match the base at the line the hunk names, or
  the case fails naming the case, the file and the first line that differs. A diff against a file
  the base does not have is an error too;
- ``nodes/l20-gpu-05/sysctl.txt``: the whole file, for a file the base does not have or a change
  to most of it.

A file in the case folder that ``files`` does not list (``X.diff`` counts as ``X``) is an error, and
so is a path present in both forms. Order of application: base, ``files``, ``remove``, ``patch``,
``question``.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from netdoctor.engine import diagnose
from netdoctor.report.build import build_report
from netdoctor.report.model import Report
from netdoctor.report.render_json import render_json
from netdoctor.sources.bundle import BundleSource

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
CASE_FILE = "case.yaml"
DIFF_SUFFIX = ".diff"

_CASE_KEYS = {"description", "base", "files", "remove", "patch", "question", "expect", "xfail"}
_PATCH_KEYS = {"file", "item", "merge"}
_QUESTION_KEYS = {"from", "to", "port", "symptom"}
_EXPECT_KEYS = {
    "verdict",
    "exit",
    "first",
    "ids",
    "fix_contains",
    "evidence_contains",
    "title_contains",
}
_VERDICT_EXIT = {"broken": 1, "healthy": 0, "inconclusive": 3}
_HAN = re.compile(r"[\u4e00-\u9fff]")


class CaseError(ValueError):
    """A case.yaml that does not follow the schema; the message names the file and the key."""


@dataclass(frozen=True)
class Patch:
    file: str
    item: str
    merge: dict[str, Any]


@dataclass(frozen=True)
class Expect:
    verdict: str
    exit: int
    ids: frozenset[str]
    first: str | None = None
    fix_contains: str | None = None
    evidence_contains: tuple[str, ...] = ()
    title_contains: str | None = None


@dataclass(frozen=True)
class Case:
    folder: Path
    description: str
    base: str
    expect: Expect
    files: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    patch: tuple[Patch, ...] = ()
    question: dict[str, Any] | None = None
    xfail: str | None = None  # reason: a known check bug this case demonstrates


def _keys(where: str, data: object, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CaseError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CaseError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    missing = sorted(required - set(data))
    if missing:
        raise CaseError(f"{where}: missing required key {missing[0]!r}")
    return data


def _str_list(where: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CaseError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def load_case(folder: Path) -> Case:
    """Read and validate ``folder/case.yaml``; raise CaseError with a one-line reason."""
    path = folder / CASE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CaseError(f"{path}: not valid YAML: {exc}") from exc
    data = _keys(str(path), raw, _CASE_KEYS, {"description", "base", "expect"})
    base = data["base"]
    if not isinstance(base, str) or not (EXAMPLES / base / "bundle.yaml").is_file():
        raise CaseError(f"{path}: base {base!r} is not a folder under examples/")
    exp = _keys(f"{path}: expect", data["expect"], _EXPECT_KEYS, {"verdict", "exit"})
    verdict = exp["verdict"]
    if verdict not in _VERDICT_EXIT:
        raise CaseError(f"{path}: expect.verdict {verdict!r} is not one of {sorted(_VERDICT_EXIT)}")
    if exp["exit"] != _VERDICT_EXIT[verdict]:
        raise CaseError(
            f"{path}: expect.exit {exp['exit']!r} contradicts verdict {verdict!r}"
            f" (exit {_VERDICT_EXIT[verdict]})"
        )
    ids = frozenset(_str_list(f"{path}: expect.ids", exp.get("ids", [])))
    first = exp.get("first")
    if verdict == "broken" and first is None:
        raise CaseError(f"{path}: a broken case must name expect.first")
    if first is not None and first not in ids:
        raise CaseError(f"{path}: expect.first {first!r} is not in expect.ids")
    patches = []
    for i, p in enumerate(data.get("patch") or []):
        p = _keys(f"{path}: patch[{i}]", p, _PATCH_KEYS, _PATCH_KEYS)
        if not isinstance(p["merge"], dict):
            raise CaseError(f"{path}: patch[{i}].merge must be a mapping")
        patches.append(Patch(file=p["file"], item=p["item"], merge=p["merge"]))
    question = data.get("question")
    if question is not None:
        question = _keys(f"{path}: question", question, _QUESTION_KEYS, set())
    xfail = data.get("xfail")
    if xfail is not None and not (isinstance(xfail, str) and xfail.strip()):
        raise CaseError(f"{path}: xfail must be a non-empty reason")
    files = _str_list(f"{path}: files", data.get("files"))
    on_disk = [
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != CASE_FILE
    ]
    overlays = sorted(rel.removesuffix(DIFF_SUFFIX) for rel in on_disk)
    both = sorted(rel for rel in on_disk if rel + DIFF_SUFFIX in on_disk)
    if both:
        raise CaseError(
            f"{path}: {both[0]!r} is in {folder.name}/ both whole and as {both[0] + DIFF_SUFFIX!r}"
        )
    unlisted = sorted(set(overlays) - set(files))
    if unlisted:
        raise CaseError(f"{path}: overlay file {unlisted[0]!r} is not listed under files")
    absent = sorted(set(files) - set(overlays))
    if absent:
        raise CaseError(f"{path}: files lists {absent[0]!r}, which is not in {folder.name}/")
    return Case(
        folder=folder,
        description=str(data["description"]),
        base=base,
        expect=Expect(
            verdict=verdict,
            exit=exp["exit"],
            ids=ids,
            first=first,
            fix_contains=exp.get("fix_contains"),
            evidence_contains=_str_list(
                f"{path}: expect.evidence_contains", exp.get("evidence_contains")
            ),
            title_contains=exp.get("title_contains"),
        ),
        files=files,
        remove=_str_list(f"{path}: remove", data.get("remove")),
        patch=tuple(patches),
        question=question,
        xfail=xfail,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: mappings merge, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _item_ref(item: dict[str, Any]) -> str:
    meta = item.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def _write_json(path: Path, doc: Any) -> None:
    # The examples are `kubectl ... -o json` output: 4-space indent, trailing newline.
    path.write_text(json.dumps(doc, indent=4) + "\n", encoding="utf-8")


_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(?: .*)?\n?")
_NO_EOL = "\\ No newline at end of file"


def _lines(text: str) -> list[str]:
    r"""Lines with their ``\n`` kept, split on ``\n`` alone so ``\r`` and the like stay bytes."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def apply_diff(old: str, diff: str, rel: str, where: str) -> str:
    """``old`` with the unified ``diff`` of bundle path ``rel`` applied, strictly: every hunk at the
    line it names, every context and ``-`` line equal to the base, else CaseError naming ``where``
    (the case), ``rel`` and the first line that differs."""
    name = f"{rel}{DIFF_SUFFIX}"
    lines = _lines(diff)
    if lines[:2] != [f"--- a/{rel}\n", f"+++ b/{rel}\n"]:
        raise CaseError(f"{where}: {name} must start with '--- a/{rel}' and '+++ b/{rel}'")
    base = _lines(old)
    out: list[str] = []
    done = 0  # lines of ``base`` consumed so far
    i = 2
    if i == len(lines):
        raise CaseError(f"{where}: {name} has no hunks")
    while i < len(lines):
        m = _HUNK.fullmatch(lines[i])
        if m is None:
            raise CaseError(f"{where}: {name} line {i + 1}: expected an @@ hunk header")
        old_len = 1 if m[2] is None else int(m[2])
        new_len = 1 if m[4] is None else int(m[4])
        # An empty side names the line before it, so a hunk at the top says 0.
        start = int(m[1]) - (1 if old_len else 0)
        if start < done:
            raise CaseError(f"{where}: {name} line {i + 1}: hunk overlaps or precedes the last one")
        out.extend(base[done:start])
        done = start
        i += 1
        want_old: list[str] = []
        got_new: list[str] = []
        while len(want_old) < old_len or len(got_new) < new_len:
            if i == len(lines):
                raise CaseError(f"{where}: {name} ends inside the hunk before line {i + 1}")
            line = lines[i]
            tag, body = line[:1], line[1:]
            if tag not in (" ", "-", "+"):
                raise CaseError(
                    f"{where}: {name} line {i + 1}: {line!r} is not a ' ', '-' or '+' line"
                )
            if not body.endswith("\n"):
                raise CaseError(f"{where}: {name} line {i + 1}: the diff itself lacks a newline")
            if i + 1 < len(lines) and lines[i + 1].rstrip("\n") == _NO_EOL:
                body = body[:-1]
                i += 1
            if tag in (" ", "-"):
                want_old.append(body)
            if tag in (" ", "+"):
                got_new.append(body)
            i += 1
        if len(want_old) != old_len or len(got_new) != new_len:
            raise CaseError(f"{where}: {name}: a hunk's lines do not add up to its @@ header")
        for k, want in enumerate(want_old):
            have = base[start + k] if start + k < len(base) else None
            if have != want:
                shown = "past the end of the file" if have is None else f"is {have!r}"
                raise CaseError(
                    f"{where}: {name} does not apply: base line {start + k + 1} {shown},"
                    f" the diff expects {want!r}"
                )
        out.extend(got_new)
        done = start + old_len
    out.extend(base[done:])
    return "".join(out)


def build_bundle(case: Case, dest: Path) -> Path:
    """The case's bundle under ``dest``: base copied, then files, removals and patches applied."""
    where = case.folder / CASE_FILE
    shutil.copytree(EXAMPLES / case.base, dest)
    for rel in case.files:
        target = dest / rel
        whole = case.folder / rel
        if whole.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(whole, target)
            continue
        if not target.is_file():
            raise CaseError(
                f"{where}: {rel}{DIFF_SUFFIX} patches {rel!r}, which is not in examples/{case.base}"
            )
        diff = (case.folder / f"{rel}{DIFF_SUFFIX}").read_bytes().decode("utf-8")
        new = apply_diff(target.read_bytes().decode("utf-8"), diff, rel, str(where))
        target.write_bytes(new.encode("utf-8"))
    for rel in case.remove:
        target = dest / rel
        if not target.is_file():
            raise CaseError(f"{where}: remove {rel!r}: no such file in examples/{case.base}")
        target.unlink()
    for p in case.patch:
        target = dest / p.file
        if not target.is_file():
            raise CaseError(f"{where}: patch {p.file!r}: no such file in the bundle")
        doc = json.loads(target.read_text(encoding="utf-8"))
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise CaseError(f"{where}: patch {p.file!r} is not a kubectl List")
        hits = [i for i, it in enumerate(items) if _item_ref(it) == p.item]
        if len(hits) != 1:
            raise CaseError(f"{where}: patch {p.file!r}: {len(hits)} items named {p.item!r}")
        items[hits[0]] = merge_patch(items[hits[0]], p.merge)
        _write_json(target, doc)
    if case.question is not None:
        manifest_path = dest / "bundle.yaml"
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        manifest["question"] = case.question
        manifest_path.write_text(
            yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return dest


def diagnose_case(case: Case, dest: Path) -> dict[str, Report]:
    """Build the bundle, diagnose it once, and build the report in both languages."""
    snapshot = BundleSource(build_bundle(case, dest)).load()
    diagnosis = diagnose(snapshot)
    return {lang: build_report(diagnosis, lang) for lang in ("en", "zh")}


def discover() -> list[Path]:
    return sorted(p.parent for p in HERE.glob(f"*/{CASE_FILE}"))


def _params() -> list[Any]:
    out = []
    for folder in discover():
        marks = []
        reason = yaml.safe_load((folder / CASE_FILE).read_text(encoding="utf-8")).get("xfail")
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        out.append(pytest.param(folder, id=folder.name, marks=marks))
    return out


def test_the_corpus_has_scenarios_to_run() -> None:
    assert len(discover()) >= 13


@pytest.mark.parametrize("folder", _params())
def test_scenario_gives_exactly_the_expected_diagnosis(folder: Path, tmp_path: Path) -> None:
    case = load_case(folder)
    reports = diagnose_case(case, tmp_path / "bundle")
    en, zh = reports["en"], reports["zh"]
    exp = case.expect
    ids = [f.id for f in en.findings]
    summary = [(f.id, f.subject.name, f.title) for f in en.findings]

    assert en.verdict == exp.verdict, summary
    assert en.exit_status == exp.exit
    assert set(ids) == exp.ids, summary
    if exp.verdict == "healthy":
        assert not any(f.severity in ("critical", "warning") for f in en.findings), summary
    if exp.first is not None:
        assert ids[0] == exp.first, summary
    top = en.findings[0] if en.findings else None
    if exp.title_contains is not None:
        assert top is not None
        assert exp.title_contains in top.title
    if exp.fix_contains is not None:
        assert top is not None
        assert top.fix, f"{top.id} has no fix"
        assert exp.fix_contains in top.fix[0].command
    if exp.evidence_contains:
        assert top is not None
        quoted = [f"{e.source} {e.value}" for e in top.evidence]
        for want in exp.evidence_contains:
            assert any(want in q for q in quoted), (want, quoted)

    assert [f.id for f in zh.findings] == ids
    assert zh.verdict == en.verdict
    for f in zh.findings:
        assert _HAN.search(f.title), f"zh title of {f.id} has no Chinese: {f.title!r}"
    for report in (en, zh):
        doc = json.loads(render_json(report))
        assert doc["verdict"] == exp.verdict
        assert [f["id"] for f in doc["findings"]] == ids


@pytest.mark.parametrize("folder", discover(), ids=lambda p: p.name)
def test_every_case_names_its_fault_and_states_the_real_world_cause(folder: Path) -> None:
    case = load_case(folder)
    assert re.fullmatch(r"\d{2,3}_[a-z0-9_]+", folder.name)
    assert len(case.description.split()) >= 8, "say what broke and why, in a sentence"


def _write_case(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / CASE_FILE).write_text(text, encoding="utf-8")
    return folder


def test_a_misspelled_expect_key_is_rejected_with_the_key_named(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_typo",
        "description: a typo in the expect block must not let a case pass silently\n"
        "base: healthy-calico\n"
        "expect:\n  verdict: healthy\n  exit: 0\n  idz: [node-ip-forward-disabled]\n",
    )
    with pytest.raises(CaseError, match=r"expect: unknown key 'idz' \(allowed: .*ids"):
        load_case(folder)


def test_a_misspelled_top_level_key_is_rejected_with_the_key_named(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_typo",
        "description: a typo at the top level must not drop the overlay silently\n"
        "base: healthy-calico\n"
        "file: [nodes/l20-gpu-05/sysctl.txt]\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    with pytest.raises(CaseError, match=r"unknown key 'file' \(allowed: .*files"):
        load_case(folder)


def test_an_overlay_file_not_listed_in_the_case_is_rejected(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_unlisted",
        "description: an overlay on disk that the case forgot to list is an error\n"
        "base: healthy-calico\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    (folder / "nodes" / "l20-gpu-05").mkdir(parents=True)
    (folder / "nodes" / "l20-gpu-05" / "sysctl.txt").write_text("net.ipv4.ip_forward = 0\n")
    with pytest.raises(
        CaseError, match=r"overlay file 'nodes/l20-gpu-05/sysctl\.txt' is not listed"
    ):
        load_case(folder)


def test_an_exit_status_that_contradicts_the_verdict_is_rejected(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_exit",
        "description: exit status and verdict must agree or the case is wrong\n"
        "base: healthy-calico\n"
        "expect:\n  verdict: broken\n  exit: 0\n  first: x\n  ids: [x]\n",
    )
    with pytest.raises(CaseError, match="contradicts verdict 'broken'"):
        load_case(folder)


def test_a_patch_naming_no_item_is_rejected_when_the_bundle_is_built(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_patch",
        "description: a patch whose item does not exist must fail, not be skipped\n"
        "base: healthy-calico\n"
        "patch:\n  - file: k8s/pods.json\n    item: kube-system/calico-node-nope\n"
        "    merge: {status: {phase: Failed}}\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    with pytest.raises(CaseError, match="0 items named 'kube-system/calico-node-nope'"):
        build_bundle(load_case(folder), tmp_path / "bundle")


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3]}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "l": [3]}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}


def _diff_case(tmp_path: Path, diff: str) -> Case:
    folder = _write_case(
        tmp_path / "99_diff",
        "description: a diff overlay must apply to the base exactly or fail loudly\n"
        "base: healthy-calico\n"
        "files: [nodes/l20-gpu-05/sysctl.txt]\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    (folder / "nodes" / "l20-gpu-05").mkdir(parents=True)
    (folder / "nodes" / "l20-gpu-05" / "sysctl.txt.diff").write_text(diff, encoding="utf-8")
    return load_case(folder)


_FORWARD_OFF = (
    "--- a/nodes/l20-gpu-05/sysctl.txt\n"
    "+++ b/nodes/l20-gpu-05/sysctl.txt\n"
    "@@ -219,3 +219,3 @@\n"
    " net.ipv4.conf.all.drop_unicast_in_l2_multicast = 0\n"
    "{old}"
    "-net.ipv4.conf.all.forwarding = 1\n"
    "+net.ipv4.conf.all.forwarding = 0\n"
)


def test_a_diff_overlay_changes_only_its_lines_of_the_base_file(tmp_path: Path) -> None:
    case = _diff_case(
        tmp_path, _FORWARD_OFF.format(old=" net.ipv4.conf.all.force_igmp_version = 0\n")
    )
    assert case.files == ("nodes/l20-gpu-05/sysctl.txt",)
    built = (build_bundle(case, tmp_path / "bundle") / case.files[0]).read_text(encoding="utf-8")
    base = (EXAMPLES / "healthy-calico" / case.files[0]).read_text(encoding="utf-8")
    assert built == base.replace(
        "net.ipv4.conf.all.forwarding = 1\n", "net.ipv4.conf.all.forwarding = 0\n"
    )


def test_a_diff_whose_context_differs_from_the_base_names_case_file_and_line(
    tmp_path: Path,
) -> None:
    case = _diff_case(
        tmp_path, _FORWARD_OFF.format(old=" net.ipv4.conf.all.force_igmp_version = 2\n")
    )
    with pytest.raises(CaseError) as err:
        build_bundle(case, tmp_path / "bundle")
    assert str(err.value) == (
        f"{case.folder / CASE_FILE}: nodes/l20-gpu-05/sysctl.txt.diff does not apply:"
        " base line 220 is 'net.ipv4.conf.all.force_igmp_version = 0\\n',"
        " the diff expects 'net.ipv4.conf.all.force_igmp_version = 2\\n'"
    )


def test_a_diff_against_a_file_the_base_lacks_is_rejected(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_nobase",
        "description: a diff needs a base file to apply to, else the case is wrong\n"
        "base: healthy-calico\n"
        "files: [nodes/l20-gpu-05/nope.txt]\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    (folder / "nodes" / "l20-gpu-05").mkdir(parents=True)
    (folder / "nodes" / "l20-gpu-05" / "nope.txt.diff").write_text(
        "--- a/nodes/l20-gpu-05/nope.txt\n+++ b/nodes/l20-gpu-05/nope.txt\n@@ -1 +1 @@\n-a\n+b\n",
        encoding="utf-8",
    )
    with pytest.raises(
        CaseError,
        match=r"99_nobase/case\.yaml: nodes/l20-gpu-05/nope\.txt\.diff patches"
        r" 'nodes/l20-gpu-05/nope\.txt', which is not in examples/healthy-calico",
    ):
        build_bundle(load_case(folder), tmp_path / "bundle")


def test_an_overlay_both_whole_and_as_a_diff_is_rejected(tmp_path: Path) -> None:
    folder = _write_case(
        tmp_path / "99_both",
        "description: one overlay in two forms is ambiguous, so the case is rejected\n"
        "base: healthy-calico\n"
        "files: [nodes/l20-gpu-05/sysctl.txt]\n"
        "expect:\n  verdict: healthy\n  exit: 0\n",
    )
    (folder / "nodes" / "l20-gpu-05").mkdir(parents=True)
    (folder / "nodes" / "l20-gpu-05" / "sysctl.txt").write_text("x = 1\n")
    (folder / "nodes" / "l20-gpu-05" / "sysctl.txt.diff").write_text("x\n")
    with pytest.raises(CaseError, match=r"both whole and as 'nodes/l20-gpu-05/sysctl\.txt\.diff'"):
        load_case(folder)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("a\nb\nc", "a\nb\nC"),  # no newline at the end, before and after
        ("a\nb\nc", "a\nb\nc\n"),
        ("a\nb\nc\n", "x\na\nb\nc\n"),  # insertion at the top: @@ -0,0
        ("a\nb\r\nc\n", "a\nb\r\nd\n"),  # \r is content, not a line end
        ("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "0\n2\n3\n4\n5\n6\n7\n8\n9\n"),
    ],
)
def test_apply_diff_reproduces_the_new_file_exactly(old: str, new: str) -> None:
    # difflib writes the diffs here, so the applier is checked against an independent writer.
    diff = ""
    for line in difflib.unified_diff(_lines(old), _lines(new), "a/f.txt", "b/f.txt", n=1):
        diff += line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n"
    assert apply_diff(old, diff, "f.txt", "case") == new


def test_every_diff_overlay_is_smaller_than_the_file_it_stands_for() -> None:
    # A diff as long as its result is a whole file in disguise: keep those whole.
    for diff in sorted(HERE.glob(f"*/**/*{DIFF_SUFFIX}")):
        case = load_case(next(p for p in diff.parents if (p / CASE_FILE).is_file()))
        rel = str(diff.relative_to(case.folder)).removesuffix(DIFF_SUFFIX)
        base = (EXAMPLES / case.base / rel).read_text(encoding="utf-8")
        assert len(_lines(diff.read_text(encoding="utf-8"))) < len(_lines(base)) / 2, diff
