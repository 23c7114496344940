"""NET-201 cni-config-conflict: each node has exactly one CNI config in ``/etc/cni/net.d``, the
one of the cluster's CNI. The runtime loads the first file by name, so a leftover config of
another CNI (or a second one of the same) decides which plugin wires the node's new pods.

Checks layer: a pure function over the Snapshot (``nodes/<node>/cni/``); which CNI a file belongs
to comes from its plugin type, else its name.
"""

from __future__ import annotations

from collections.abc import Iterator

from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, Note, Yielded, check
from netdoctor.checks.overlay._common import cni_conf_files, cni_file_source, conf_json, routing_cni
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject

__all__ = ["cni_config_conflict"]


# The plugin type in a CNI config, as each CNI names it.
_PLUGIN_CNI = {
    "calico": "calico",
    "flannel": "flannel",
    "kube-ovn": "kube-ovn",
    "cilium-cni": "cilium",
    "multus": "multus",
}


def _conf_cni(file: str, text: str) -> str:
    """Which CNI a config file belongs to: its (first) plugin type, else its name."""
    conf = conf_json(text)
    if conf is not None:
        t = conf.get("type")
        plugins = conf.get("plugins")
        if not isinstance(t, str) and isinstance(plugins, list) and plugins:
            first = plugins[0]
            t = first.get("type") if isinstance(first, dict) else None
        if isinstance(t, str) and t:
            return _PLUGIN_CNI.get(t, t)
    for cni in ("calico", "flannel", "kube-ovn", "cilium", "multus", "weave"):
        if cni in file:
            return cni
    return file


@check("cni-config-conflict", code="NET-201", needs=("node.cni",))
def cni_config_conflict(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    intended = routing_cni(ctx)
    in_use: dict[str, str] = {}
    conflicts: list[tuple[str, list[str]]] = []
    for name in sorted(snap.node_by_name or snap.node_facts):
        facts = snap.node_facts.get(name)
        if facts is None or facts.cni_files is None:
            yield Note(
                Message(
                    "note.node_file_missing",
                    {"node": name, "path": cni_file_source(snap, name, "")},
                )
            )
            continue
        files = cni_conf_files(facts)
        if not files:
            continue
        in_use[name] = files[0]
        if len(files) > 1 and _conf_cni(files[0], facts.cni_files[files[0]]) != "multus":
            conflicts.append((name, files))
    odd = odd_one_out(in_use)
    for name, files in conflicts:
        texts = snap.node_facts[name].cni_files or {}
        owners = {f: _conf_cni(f, texts[f]) for f in files}
        first = files[0]
        if intended is None:
            variant, severity = "unknown", Severity.WARNING
            stale = files[1:]
        elif owners[first] == intended:
            variant, severity = "leftover", Severity.INFO
            stale = [f for f in files[1:] if owners[f] != intended] or files[1:]
        else:
            variant, severity = "wrong_first", Severity.CRITICAL
            stale = [f for f in files if owners[f] != intended]
        keep = [f for f in files if f not in stale]
        ev = [
            Evidence(
                source=cni_file_source(snap, name, f),
                object=f"CNIConfig/{f}",
                field="plugin type" if i else "plugin type (first by name: in use)",
                value=owners[f],
                node=name,
            )
            for i, f in enumerate(files)
        ]
        moves = " ".join(f"/etc/cni/net.d/{f}" for f in stale)
        notes = (odd.note("cni_config"),) if odd is not None and name in odd.nodes else ()
        yield Finding(
            id="cni-config-conflict",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "first": first,
                "first_cni": owners[first],
                "stale": ", ".join(stale),
                "keep": ", ".join(keep),
                "cni": intended or "",
            },
            evidence=tuple(ev),
            fix=(
                Action(
                    message=Message(
                        "fix.overlay.cni_move", {"node": name, "stale": ", ".join(stale)}
                    ),
                    command=(
                        f"mkdir -p /etc/cni/net.d.disabled && mv {moves} /etc/cni/net.d.disabled/"
                    ),
                ),
                Action(
                    message=Message("fix.overlay.cni_recreate", {"node": name}),
                    command=f"kubectl get pods -A -o wide --field-selector spec.nodeName={name}",
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.overlay.cni_ls", {"file": keep[0] if keep else ""}),
                    command="ls -1 /etc/cni/net.d/",
                ),
            ),
            notes=notes,
            nodes=(name,),
            severity=severity,
        )
