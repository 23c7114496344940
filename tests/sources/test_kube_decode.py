"""decode_list / parse_version: every shape kubectl prints, and one-line errors that locate the
problem inside the file."""

from __future__ import annotations

import pytest

from netdoctor.errors import ParseError
from netdoctor.model.k8s import GenericObject, Node, Pod
from netdoctor.parsers.kube import decode_list, parse_version

F = "k8s/pods.json"


def test_a_kind_list_decodes_into_typed_items() -> None:
    data = b'{"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "a", "namespace": "d"}, "status": {"podIP": "10.0.0.1"}}]}'  # noqa: E501
    (pod,) = decode_list(data, F, Pod)
    assert (pod.ref, pod.ips) == ("d/a", ["10.0.0.1"])


def test_a_typed_podlist_decodes_like_a_list() -> None:
    data = b'{"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}'  # noqa: E501
    assert [p.name for p in decode_list(data, F, Pod)] == ["a", "b"]


def test_one_object_is_wrapped_into_a_one_item_tuple() -> None:
    data = b'{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}}'  # noqa: E501
    (node,) = decode_list(data, "k8s/nodes.json", Node)
    assert node.internal_ips == ["10.0.0.9"]


def test_a_bare_json_array_of_objects_is_accepted() -> None:
    assert [p.name for p in decode_list(b'[{"metadata": {"name": "x"}}]', F, Pod)] == ["x"]


def test_an_empty_list_is_an_empty_tuple_not_an_error() -> None:
    assert decode_list(b'{"apiVersion": "v1", "items": [], "kind": "List"}', F, Pod) == ()


def test_a_wrong_type_names_the_item_and_field_in_one_line() -> None:
    data = b'{"kind": "List", "items": [{}, {}, {}, {"status": {"podIP": 5}}]}'
    with pytest.raises(ParseError) as e:
        decode_list(data, F, Pod)
    assert str(e.value) == "k8s/pods.json: items[3].status.podIP: expected str, got int"
    assert e.value.file == F


def test_a_missing_required_field_is_named() -> None:
    data = b'{"kind": "List", "items": [{"status": {"addresses": [{"address": "1.2.3.4"}]}}]}'
    with pytest.raises(ParseError) as e:
        decode_list(data, "k8s/nodes.json", Node)
    assert e.value.problem == "items[0].status.addresses[0]: object missing required field 'type'"


def test_malformed_json_names_line_and_column() -> None:
    data = b'{\n  "kind": "List",\n  "items": [}\n'
    with pytest.raises(ParseError) as e:
        decode_list(data, F, Pod)
    assert e.value.problem == "malformed JSON: invalid character at line 3, column 13"


def test_truncated_json_says_so() -> None:
    with pytest.raises(ParseError) as e:
        decode_list(b'{"kind": "List", "items": [{"metadata": {', F, Pod)
    assert "truncated" in e.value.problem


def test_an_empty_file_is_a_parse_error_not_an_empty_list() -> None:
    with pytest.raises(ParseError, match="empty file"):
        decode_list(b" \r\n", F, Pod)


def test_crlf_and_a_bom_do_not_matter() -> None:
    data = b'\xef\xbb\xbf{"kind": "List",\r\n "items": [{"metadata": {"name": "a"}}]}\r\n'
    assert [p.name for p in decode_list(data, F, Pod)] == ["a"]


def test_yaml_is_recognised_by_suffix_or_by_its_first_key() -> None:
    text = b"apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n"
    assert [p.name for p in decode_list(text, "k8s/pods.json", Pod)] == ["a"]
    assert [p.name for p in decode_list(b"items:\n- metadata: {name: b}\n", "x.yml", Pod)] == ["b"]


def test_multi_document_yaml_collects_every_object() -> None:
    text = b"---\nkind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n---\n"
    assert [p.name for p in decode_list(text, "k8s/pods.yaml", Pod)] == ["a", "b"]


def test_a_yaml_type_error_is_located_like_a_json_one() -> None:
    text = b"kind: List\nitems:\n- status:\n    podIP: 5\n"
    with pytest.raises(ParseError) as e:
        decode_list(text, "k8s/pods.yaml", Pod)
    assert e.value.problem == "items[0].status.podIP: expected str, got int"


def test_malformed_yaml_names_the_line_in_one_line() -> None:
    text = b"kind: List\nitems:\n- metadata:\n    name: [unclosed\n"
    with pytest.raises(ParseError) as e:
        decode_list(text, "k8s/pods.yaml", Pod)
    assert e.value.problem.startswith("malformed YAML:")
    assert "line 5" in e.value.problem
    assert "\n" not in str(e.value)


def test_yaml_aliases_are_refused_so_a_small_file_cannot_expand() -> None:
    text = b"kind: List\na: &a [x, x, x]\nitems: [*a, *a]\n"
    with pytest.raises(ParseError) as e:
        decode_list(text, "k8s/pods.yaml", GenericObject)
    assert e.value.problem == "YAML anchors and aliases are not supported at line 3"


def test_unquoted_yaml_timestamps_stay_strings() -> None:
    text = b"kind: List\nitems:\n- metadata: {name: a, creationTimestamp: 2026-01-10T08:00:00Z}\n"
    (pod,) = decode_list(text, "k8s/pods.yaml", Pod)
    assert pod.metadata.creation_timestamp == "2026-01-10T08:00:00Z"


def test_kubectl_version_json_and_yaml_both_parse() -> None:
    j = b'{"clientVersion": {"major": "1", "minor": "29", "gitVersion": "v1.29.4"}, "kustomizeVersion": "v5.0.4"}'  # noqa: E501
    v = parse_version(j, "k8s/version.json")
    assert v.client_version is not None
    assert v.client_version.git_version == "v1.29.4"
    assert v.server_version is None
    y = b"serverVersion:\n  gitVersion: v1.30.0\n"
    v = parse_version(y, "k8s/version.yaml")
    assert v.server_version is not None
    assert v.server_version.git_version == "v1.30.0"


def test_a_version_file_of_the_wrong_shape_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as e:
        parse_version(b'{"clientVersion": "v1.29"}', "k8s/version.json")
    assert e.value.problem == "clientVersion: expected object, got str"


def test_deeply_nested_yaml_is_a_parse_error_not_a_crash() -> None:
    # libyaml's own composer recurses in C: this input would kill the interpreter.
    with pytest.raises(ParseError) as e:
        decode_list(b"- " * 50_000 + b"x\n", "k8s/pods.yaml", Pod)
    assert e.value.problem == "YAML nested more than 256 deep at line 1"


def test_deeply_nested_json_is_a_parse_error() -> None:
    data = b'{"kind": "List", "items": [{"spec": {"a": ' + b"[" * 100_000
    with pytest.raises(ParseError) as e:
        decode_list(data, "k8s/ippools.crd.projectcalico.org.json", GenericObject)
    assert e.value.problem == "JSON nested too deeply"


def test_yaml_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(ParseError) as e:
        decode_list(b"kind: List\nitems: !!python/object:os.system {}\n", "k8s/p.yaml", Pod)
    assert "is not supported at line 2" in e.value.problem


def test_a_wrongly_typed_yaml_mapping_key_is_located() -> None:
    with pytest.raises(ParseError) as e:
        decode_list(b"kind: List\nitems:\n- metadata:\n    labels: {1: 2}\n", "k8s/p.yaml", Pod)
    assert e.value.problem == "items[0].metadata.labels: a key: expected str, got int"
