"""Walking a runbook over a real example bundle: a filled checklist, branches, a conclusion.

A step counts as passed only when its checks ran and passed: skipped, errored, unknown or
manual steps are walked past along ``pass`` but recorded as unverified.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netdoctor.checks import REGISTRY
from netdoctor.checks._support.registry import CheckSpec
from netdoctor.runbooks.execute import execute
from netdoctor.runbooks.loader import parse_runbook
from netdoctor.sources.bundle import BundleSource

EX = Path(__file__).resolve().parents[2] / "examples"

BODY = """
# Test
## Goal
## Workflow
## Reading the results
## Remediation
## Verification
## References
"""


def book(steps: str):
    text = f"""---
id: walk
title: {{en: "Walk", zh: "测试"}}
category: pod_to_pod_cross_node
triggers: [walk]
conclusions:
  fine: {{en: "Nothing found.", zh: "未发现问题。"}}
  forwarding: {{en: "Forwarding.", zh: "转发。"}}
  address: {{en: "Calico address.", zh: "Calico 地址。"}}
  dup: {{en: "Duplicate InternalIP.", zh: "InternalIP 重复。"}}
steps:{steps}
---
{BODY}"""
    return parse_runbook(text, "walk.md")


STEPS = """
  - id: forwarding
    title: {en: "Forwarding on, and a check this netdoctor lacks", zh: "转发"}
    checks: [node-ip-forward-disabled, no-such-check]
    pass: {next: dup}
    fail: {conclude: forwarding}
  - id: dup
    title: {en: "InternalIPs unique", zh: "InternalIP 唯一"}
    checks: [node-internal-ip-duplicate]
    pass: {next: manual}
    fail: {conclude: dup}
  - id: manual
    title: {en: "Look at the veths", zh: "查看 veth"}
    command: "tcpdump -ni cali123 icmp"
    pass: {next: address}
    fail: {conclude: fine}
  - id: address
    title: {en: "Calico address", zh: "Calico 地址"}
    checks: [calico-node-address-mismatch]
    pass: {conclude: fine}
    fail: {conclude: address}
"""


def test_the_calico_example_walks_to_the_address_conclusion_naming_its_finding():
    snap = BundleSource(str(EX / "calico-ib-autodetect")).load()
    run = execute(book(STEPS), snap)
    status = {r.step.id: r.status for r in run.steps}
    assert status == {
        "forwarding": "skipped",
        "dup": "ok",
        "manual": "manual",
        "address": "finding",
    }
    forwarding = run.steps[0]
    assert [m.key for m in forwarding.reasons] == ["runbooks.skip.unknown_check"]
    assert forwarding.reasons[0].params == {"check": "no-such-check"}
    assert forwarding.branch == "pass"  # walked past, not passed
    assert run.conclusion == "address"
    assert run.outcome == "found"
    assert [f.finding.id for f in run.findings] == ["calico-node-address-mismatch"]
    assert run.findings[0].finding.fix  # the fix travels with the conclusion
    assert run.unverified == ("forwarding", "manual")


def test_a_walk_past_unverified_steps_to_the_all_clear_is_inconclusive(tmp_path):
    shutil.copytree(EX / "healthy-calico", tmp_path / "b")
    for f in (tmp_path / "b" / "nodes").glob("*/sysctl.txt"):
        f.unlink()
    snap = BundleSource(str(tmp_path / "b")).load()
    steps = STEPS.replace("no-such-check", "node-internal-ip-duplicate").replace(
        '    command: "tcpdump -ni cali123 icmp"\n', "    checks: [cni-agent-unhealthy]\n"
    )
    run = execute(book(steps), snap)
    first = run.steps[0]
    assert first.status == "skipped"
    assert any("sysctl.txt" in " ".join(m.params.values()) for m in first.reasons)
    assert run.conclusion == "fine"
    assert run.outcome == "inconclusive"
    assert run.unverified == ("forwarding",)


def test_every_step_passing_on_the_healthy_example_clears_it():
    snap = BundleSource(str(EX / "healthy-calico")).load()
    steps = STEPS.replace(", no-such-check", "").replace(
        '    command: "tcpdump -ni cali123 icmp"\n', "    checks: [cni-agent-unhealthy]\n"
    )
    run = execute(book(steps), snap)
    assert [r.status for r in run.steps] == ["ok", "ok", "ok", "ok"]
    assert run.outcome == "cleared"
    assert run.conclusion == "fine"
    assert run.findings == ()


def test_a_check_that_crashes_makes_its_step_skipped_never_ok(monkeypatch):
    def boom(ctx):
        raise RuntimeError("kaput")

    monkeypatch.setenv("NETDOCTOR_STRICT", "0")
    real = REGISTRY["node-ip-forward-disabled"]
    spec = CheckSpec(
        id=real.id, code=real.code, fn=boom, needs=(), cni=(), family="node", module="node"
    )
    monkeypatch.setitem(REGISTRY, real.id, spec)
    snap = BundleSource(str(EX / "healthy-calico")).load()
    steps = STEPS.replace(", no-such-check", "")
    run = execute(book(steps), snap)
    first = run.steps[0]
    assert first.status == "skipped"
    assert first.reasons[0].params == {"check": real.id, "status": "error"}
    assert "kaput" in first.reasons[1].params["error"]


@pytest.mark.parametrize("name", ["calico-ib-autodetect", "flannel-virtualbox-nat"])
def test_the_shipped_runbook_for_the_examples_cni_ends_at_a_conclusion_that_names_a_finding(name):
    from netdoctor.engine import diagnose
    from netdoctor.runbooks.loader import load_runbooks
    from netdoctor.runbooks.router import route

    snap = BundleSource(str(EX / name)).load()
    d = diagnose(snap)
    routing = route("跨节点 Pod ping 不通，同节点正常", load_runbooks(), cni=d.cni.names)
    assert routing.best is not None
    assert routing.best.runbook.cni == d.cni.names[:1]
    run = execute(routing.best.runbook, snap, diagnosis=d)
    assert run.outcome == "found"
    assert run.conclusion in routing.best.runbook.conclusions
    assert run.findings
    assert run.findings[0].finding.id == d.findings[0].finding.id


def test_manual_commands_are_filled_from_the_question_and_the_cluster():
    from netdoctor.model.snapshot import Question

    snap = BundleSource(str(EX / "calico-ib-autodetect")).load()
    steps = STEPS.replace(
        '"tcpdump -ni cali123 icmp"',
        '"kubectl exec -n <NS> <POD> -- ping -c 3 <DST_IP>; kubectl logs -n <AGENT_NS> x; <KEEP>"',
    )
    q = Question(from_="default/netdebug04", to="default/netdebug05")
    run = execute(book(steps), snap, q)
    manual = next(r for r in run.steps if r.step.id == "manual")
    # netdebug05's pod IP, from the example's k8s/pods.json
    assert manual.command.startswith(
        "kubectl exec -n default netdebug04 -- ping -c 3 10.30.229.240;"
    )
    assert "kubectl logs -n kube-system x" in manual.command
    assert manual.command.endswith("<KEEP>")  # unknown placeholders stay for the person
