"""The bundle's own files: manifest, probes, nft JSON, logs, CNI config."""

from __future__ import annotations

import pytest

from netdoctor.errors import ParseError
from netdoctor.model.snapshot import Question
from netdoctor.parsers.bundle_files import (
    decode_log,
    parse_cni_file,
    parse_manifest,
    parse_nft,
    parse_probe,
)

M = "bundle.yaml"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ('"22/tcp"', (22, "TCP")),
        ("22", (22, "TCP")),
        ('"53/udp"', (53, "UDP")),
        ('"53/UDP"', (53, "UDP")),
        ('"8080"', (8080, "TCP")),
    ],
)
def test_the_question_port_is_split_into_port_and_protocol(
    port: str, expected: tuple[int, str]
) -> None:
    m = parse_manifest(f"formatVersion: 1\nquestion:\n  to: a/b\n  port: {port}\n".encode(), M)
    assert m.question is not None
    assert (m.question.port, m.question.protocol) == expected


def test_a_full_manifest_reads_every_documented_field() -> None:
    m = parse_manifest(
        b'formatVersion: 1\ncollectedAt: "2026-02-14T09:30:00Z"\ncollector: manual\n'
        b'cluster: l20-gpu\nquestion:\n  from: default/a\n  to: default/b\n  symptom: "x"\n'
        b"redacted: true\n",
        M,
    )
    assert (m.format_version, m.collected_at, m.collector, m.cluster, m.redacted) == (
        1,
        "2026-02-14T09:30:00Z",
        "manual",
        "l20-gpu",
        True,
    )
    assert m.question == Question(from_="default/a", to="default/b", symptom="x")


def test_an_unquoted_collected_at_timestamp_stays_the_string_written() -> None:
    m = parse_manifest(b"formatVersion: 1\ncollectedAt: 2026-02-14T09:30:00Z\n", M)
    assert m.collected_at == "2026-02-14T09:30:00Z"


def test_a_newer_format_version_is_refused_naming_the_version() -> None:
    with pytest.raises(ParseError) as e:
        parse_manifest(b"formatVersion: 2\n", M)
    assert str(e.value).startswith("bundle.yaml: formatVersion 2 is not supported")


@pytest.mark.parametrize(
    ("port", "problem"),
    [
        ('"http/tcp"', "question.port: expected a port like 22 or '53/udp', got 'http/tcp'"),
        ("70000", "question.port: port 70000 is out of range 1-65535"),
        ('"22/icmp"', "question.port: unknown protocol 'ICMP' (TCP, UDP or SCTP)"),
    ],
)
def test_a_bad_question_port_is_a_parse_error_quoting_it(port: str, problem: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_manifest(f"question:\n  port: {port}\n".encode(), M)
    assert e.value.problem == problem


def test_a_protocol_that_contradicts_the_port_suffix_is_refused() -> None:
    with pytest.raises(ParseError, match="contradicts"):
        parse_manifest(b"question:\n  port: 53/udp\n  protocol: TCP\n", M)


def test_a_manifest_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ParseError, match="expected one YAML mapping"):
        parse_manifest(b"- formatVersion: 1\n", M)


PROBE = (
    b'{"from": {"pod": "default/a"}, "to": {"ip": "10.0.0.2", "port": 22, "protocol": "tcp"},'
    b' "kind": "tcp", "attempts": 3, "succeeded": 0, "result": "timeout",'
    b' "detail": "timed out", "rttMs": 1.5, "at": "2026-02-14T09:31:02Z"}'
)


def test_a_probe_reads_from_to_and_takes_its_name_from_the_file() -> None:
    p = parse_probe(PROBE, "probes/a-b.json", "a-b")
    assert p.name == "a-b"
    assert p.from_.pod == "default/a"
    assert (p.to.ip, p.to.port, p.to.protocol) == ("10.0.0.2", 22, "TCP")
    assert (p.kind, p.result, p.attempts, p.succeeded, p.rtt_ms) == ("tcp", "timeout", 3, 0, 1.5)


def test_a_probe_with_an_undocumented_result_is_refused() -> None:
    with pytest.raises(ParseError) as e:
        parse_probe(PROBE.replace(b'"timeout"', b'"maybe"'), "probes/x.json", "x")
    assert e.value.problem.startswith("result: 'maybe' is not one of error, no-route, nxdomain")


def test_a_probe_with_a_wrong_type_names_the_field() -> None:
    with pytest.raises(ParseError) as e:
        parse_probe(PROBE.replace(b'"attempts": 3', b'"attempts": "three"'), "probes/x.json", "x")
    assert e.value.problem == "attempts: expected int, got str"


def test_nft_json_must_be_the_nftables_object() -> None:
    assert parse_nft(b'{"nftables": []}', "n.json") == {"nftables": []}
    with pytest.raises(ParseError, match=r'expected \{"nftables"'):
        parse_nft(b"[1, 2]", "n.json")
    with pytest.raises(ParseError, match="malformed JSON"):
        parse_nft(b'{"nftables": [', "n.json")


def test_a_log_keeps_its_last_lines_and_replaces_bad_bytes() -> None:
    data = b"".join(b"line %d\r\n" % i for i in range(10)) + b"bad \xff byte\n"
    text = decode_log(data, max_lines=3)
    assert text == "line 8\nline 9\nbad \ufffd byte\n"


def test_a_short_log_without_a_final_newline_is_kept_whole() -> None:
    assert decode_log(b"one\ntwo") == "one\ntwo"


def test_a_malformed_cni_conflist_is_kept_with_a_malformed_note() -> None:
    text, note = parse_cni_file(b'{"name": "k8s",', "nodes/n1/cni/10-calico.conflist")
    assert text == '{"name": "k8s",'
    assert note is not None
    assert (note.file, note.note) == ("nodes/n1/cni/10-calico.conflist", "malformed")
    assert "truncated" in note.detail


def test_a_cni_file_that_is_not_json_config_is_kept_without_judging_it() -> None:
    assert parse_cni_file(b"apiVersion: v1\n", "nodes/n1/cni/calico-kubeconfig") == (
        "apiVersion: v1\n",
        None,
    )
