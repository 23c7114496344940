"""Turn a Diagnosis into the report model, in one language.

Report layer: the only place where findings become sentences (through the catalog). Every
renderer then reads the same Report.
"""

from __future__ import annotations

from netdoctor import __version__
from netdoctor.catalog import Catalog, Lang, load_catalog
from netdoctor.engine import Diagnosis
from netdoctor.model.findings import Action, CheckStatus, Evidence, Verdict
from netdoctor.model.snapshot import InputNote, Probe
from netdoctor.report.model import (
    CheckRow,
    EvidenceRow,
    FindingRow,
    HopRow,
    InputInfo,
    InputNoteRow,
    PathRow,
    ProbeRow,
    QuestionRow,
    Report,
    StepRow,
    SubjectRow,
    ToolInfo,
    WalkRow,
)
from netdoctor.report.runbooks import run_row
from netdoctor.session import Diagnosis as SessionDiagnosis
from netdoctor.trace.path import Path as TracePath

__all__ = ["build_report"]


def _ev(e: Evidence) -> EvidenceRow:
    return EvidenceRow(source=e.source, object=e.object, field=e.field, value=e.value, node=e.node)


def _steps(cat: Catalog, actions: tuple[Action, ...], lang: Lang) -> list[StepRow]:
    return [StepRow(description=cat.render(a.message, lang), command=a.command) for a in actions]


def _probe_end(end: object) -> str:
    for attr in ("pod", "service", "node", "ip"):
        value = getattr(end, attr, None)
        if value:
            port = getattr(end, "port", None)
            return f"{value}:{port}" if port and attr == "ip" else str(value)
    return "?"


def _probe(p: Probe) -> ProbeRow:
    target = _probe_end(p.to)
    if p.to.port and not p.to.ip:
        target += f":{p.to.port}"
    return ProbeRow(
        name=p.name,
        kind=p.kind,
        source=_probe_end(p.from_),
        target=target,
        result=p.result,
        detail=p.detail,
        attempts=p.attempts,
        succeeded=p.succeeded,
    )


def _note_detail(cat: Catalog, lang: Lang, n: InputNote) -> str:
    """The reason in the user's language, then the input's own words, if any."""
    said = cat.text(f"input.{n.reason}", lang, n.params) if n.reason else ""
    return f"{said}: {n.detail}" if said and n.detail else said or n.detail


def _fold_notes(
    cat: Catalog, lang: Lang, notes: tuple[InputNote, ...], node_count: int
) -> list[InputNoteRow]:
    """One row per per-node file name and kind of note: 1,000 nodes must not mean 1,000 rows."""
    rows: list[InputNoteRow] = []
    per_node: dict[tuple[str, str], list[str]] = {}
    for n in notes:
        parts = n.file.split("/", 2)
        if len(parts) == 3 and parts[0] == "nodes" and not n.detail and not n.reason:
            per_node.setdefault((parts[2], n.note), []).append(parts[1])
        else:
            rows.append(InputNoteRow(file=n.file, note=n.note, detail=_note_detail(cat, lang, n)))
    for (name, note), nodes in per_node.items():
        if len(nodes) == 1:
            rows.append(InputNoteRow(file=f"nodes/{nodes[0]}/{name}", note=note))
            continue
        shown = ", ".join(nodes[:5]) + (f", +{len(nodes) - 5}" if len(nodes) > 5 else "")
        every = len(nodes) == node_count
        key = "input.on_all_nodes" if every else "input.on_some_nodes"
        detail = cat.text(key, lang, {"count": str(len(nodes)), "nodes": shown})
        rows.append(InputNoteRow(file=f"nodes/*/{name}", note=note, detail=detail))
    return rows


def _path(cat: Catalog, lang: Lang, path: TracePath) -> PathRow:
    return PathRow(
        verdict=path.verdict,
        drop_at=path.drop_at,
        hops=[
            HopRow(
                index=h.index,
                node=h.node,
                stage=h.stage,
                direction=h.direction,
                verdict=h.verdict,
                detail=cat.render(h.message, lang),
                evidence=[_ev(e) for e in h.evidence],
                cause=h.cause,
            )
            for h in path.hops
        ],
    )


def build_report(d: Diagnosis, lang: Lang, *, catalog: Catalog | None = None) -> Report:
    cat = catalog or load_catalog()
    snap = d.snapshot
    findings = []
    for r in d.findings:
        f = r.finding
        findings.append(
            FindingRow(
                id=f.id,
                code=r.code,
                severity=r.severity.value,
                on_path=r.on_path,
                subject=SubjectRow(
                    kind=f.subject.kind, name=f.subject.name, namespace=f.subject.namespace
                ),
                title=cat.title(f, lang),
                evidence=[_ev(e) for e in f.evidence],
                fix=_steps(cat, f.fix, lang),
                verify=_steps(cat, f.verify, lang),
                notes=[cat.render(m, lang) for m in f.notes],
                confidence=f.confidence,
            )
        )
    checks = []
    for o in d.outcomes:
        entry = cat.entry(o.check_id)
        checks.append(
            CheckRow(
                id=o.check_id,
                code=entry.code if entry else "",
                status=o.status.value,
                title=entry.about[lang] if entry else "",
                reason=cat.render(o.reason, lang) if o.reason else None,
                notes=[cat.render(m, lang) for m in o.notes],
            )
        )
    reasons = [cat.render(m, lang) for m in d.reasons]
    if d.verdict is Verdict.BROKEN and findings:
        top = findings[0]
        summary = cat.text("summary.broken", lang, {"code": top.code, "title": top.title})
    elif d.verdict is Verdict.BROKEN and d.path is not None and d.path.drop_at is not None:
        hop = d.path.hops[d.path.drop_at]
        entry = cat.entry(hop.cause) if hop.cause else None
        summary = cat.text(
            "summary.broken_path",
            lang,
            {
                "index": str(hop.index),
                "node": hop.node or "-",
                "detail": cat.render(hop.message, lang),
                "cause": f" [{entry.code} {entry.id}]" if entry else "",
            },
        )
    elif d.verdict is Verdict.HEALTHY:
        ok = sum(1 for o in d.outcomes if o.status is CheckStatus.OK)
        summary = cat.text("summary.healthy", lang, {"count": str(ok)})
    else:
        summary = cat.text("summary.inconclusive", lang, {"reasons": "; ".join(reasons)})
    q = d.question
    question = (
        QuestionRow(
            from_=q.from_,
            to=q.to,
            port=q.port,
            protocol=q.protocol if q.port else None,
            symptom=q.symptom,
            observed=d.symptom.value if d.symptom is not None else None,
            observed_meaning=(
                cat.text(f"symptom.{d.symptom.value}", lang) if d.symptom is not None else None
            ),
        )
        if q is not None
        else None
    )
    labels = {
        k.removeprefix("ui."): v.get(lang, v["en"])
        for k, v in cat.messages.items()
        if k.startswith("ui.")
    }
    report = Report(
        tool=ToolInfo(name="netdoctor", version=__version__),
        lang=lang,
        input=InputInfo(
            kind=snap.source_kind,
            path=snap.source_path,
            notes=_fold_notes(cat, lang, snap.input_notes, len(snap.node_facts)),
            cluster=snap.manifest.cluster,
            collected_at=snap.manifest.collected_at,
        ),
        question=question,
        verdict=d.verdict.value,
        summary=summary,
        reasons=reasons,
        cni=list(d.cni.names),
        findings=findings,
        checks=checks,
        probes=[_probe(p) for p in d.probes],
        path=_path(cat, lang, d.path) if d.path is not None else None,
        walk=[
            WalkRow(
                step=w.step,
                status=w.status,
                detail=cat.render(w.detail, lang),
                checks=list(w.checks),
            )
            for w in d.walk
        ],
        exit_status=d.verdict.exit_status,
        labels=labels,
    )
    if isinstance(d, SessionDiagnosis) and d.runbook is not None:
        # The runbook the symptom chose, walked over the same data; the findings its checks
        # gave are marked with its id.
        report.runbook = run_row(d.runbook, lang, routing=d.routing, catalog=cat)
        for row in report.findings:
            if row.id in d.covered and row.runbook is None:
                row.runbook = d.runbook.runbook.id
    return report
