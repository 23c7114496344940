"""``netdoctor explain`` and ``netdoctor checks``: the catalog's pages, as text or JSON.

Report layer: reads the catalog and the check registry, writes no sentence of its own.
"""

from __future__ import annotations

import textwrap

import msgspec

from netdoctor.catalog import SECTIONS, Entry, Lang, load_catalog
from netdoctor.checks._support.registry import load_checks
from netdoctor.model.layout import path_for

__all__ = ["render_checks", "render_explain"]


def render_explain(entry: Entry, lang: Lang) -> str:
    cat = load_catalog()
    colon = "：" if lang == "zh" else ": "
    severity = cat.text("severity." + entry.severity.value, lang)
    lines = [f"{entry.code}  {entry.id}", entry.about[lang]]
    lines.append(cat.text("explain.severity", lang) + colon + severity)
    spec = load_checks().get(entry.id)
    if spec is not None and spec.needs:
        needs = ", ".join(path_for(n) for n in spec.needs)
        lines.append(cat.text("explain.needs", lang) + colon + needs)
    for section in SECTIONS:
        lines += ["", f"## {cat.text('explain.' + section, lang)}"]
        width = 50 if lang == "zh" else 96  # Chinese characters take two cells each
        lines += textwrap.wrap(entry.doc[section][lang], width=width) or [""]
    if entry.references:
        lines += ["", f"## {cat.text('explain.references', lang)}"]
        lines += [f"- {r}" for r in entry.references]
    return "\n".join(lines) + "\n"


def render_checks(lang: Lang, fmt: str) -> str:
    cat = load_catalog()
    rows = []
    for spec in sorted(load_checks().values(), key=lambda s: s.code):
        entry = cat.entry(spec.id)
        rows.append(
            {
                "code": spec.code,
                "id": spec.id,
                "family": spec.family,
                "severity": entry.severity.value if entry else "",
                "about": entry.about[lang] if entry else "",
                "needs": [path_for(n) for n in spec.needs],
                "cni": list(spec.cni),
            }
        )
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode({"checks": rows}), indent=2).decode() + "\n"
    out = []
    for r in rows:
        cni = f"  [{', '.join(r['cni'])}]" if r["cni"] else ""
        out.append(f"{r['code']}  {r['id']:<34} {r['about']}{cni}")
    return "\n".join(out) + "\n"
