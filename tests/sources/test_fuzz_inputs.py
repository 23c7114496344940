"""Random bytes as any bundle file: the only outcomes are success or an InputError in one line."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdoctor.errors import InputError
from netdoctor.model.k8s import GenericObject, Node, Pod
from netdoctor.parsers.bundle_files import parse_cni_file, parse_manifest, parse_nft, parse_probe
from netdoctor.parsers.kube import decode_list, parse_version
from netdoctor.sources import BundleSource

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "k8s/pods.json": lambda d: decode_list(d, "k8s/pods.json", Pod),
    "k8s/nodes.yaml": lambda d: decode_list(d, "k8s/nodes.yaml", Node),
    "k8s/ippools.crd.projectcalico.org.json": lambda d: decode_list(
        d, "k8s/ippools.crd.projectcalico.org.json", GenericObject
    ),
    "k8s/version.json": lambda d: parse_version(d, "k8s/version.json"),
    "bundle.yaml": lambda d: parse_manifest(d, "bundle.yaml"),
    "probes/p.json": lambda d: parse_probe(d, "probes/p.json", "p"),
    "nodes/n1/nft-ruleset.json": lambda d: parse_nft(d, "nodes/n1/nft-ruleset.json"),
}

# Bytes that look like the real thing often enough to get past the first character.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "items",
                    "metadata",
                    "name",
                    "status",
                    "podIP",
                    "spec",
                    "from",
                    "to",
                    "port",
                    "result",
                    "nftables",
                    "formatVersion",
                    "question",
                    "clientVersion",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
json_bytes = json_values.map(lambda v: json.dumps(v).encode())
yaml_bytes = st.text(alphabet="ab: -[]{}&*!\n\t'\"#%|>0123456789.", max_size=120).map(str.encode)
anything = st.binary(max_size=300) | json_bytes | yaml_bytes


def _error_of(call: Callable[[], Any]) -> str | None:
    """None when ``call`` succeeds, the message when it raises an InputError (anything else
    propagates and fails the test)."""
    try:
        call()
    except InputError as e:
        return str(e)
    return None


@FUZZ
@given(data=anything)
def test_random_bytes_in_any_structured_file_parse_or_raise_input_error(data: bytes) -> None:
    for parse in PARSERS.values():
        message = _error_of(lambda parse=parse: parse(data))  # type: ignore[misc]
        assert message is None or "\n" not in message, message


@FUZZ
@given(data=anything)
def test_random_bytes_as_a_cni_file_are_kept_as_text(data: bytes) -> None:
    text, note = parse_cni_file(data, "nodes/n1/cni/10-x.conflist")
    assert isinstance(text, str)
    assert note is None or note.note == "malformed"


@settings(FUZZ, max_examples=60)
@given(
    rel=st.sampled_from([*PARSERS, "nodes/n1/ip-addr.json", "nodes/n1/sysctl.txt"]), data=anything
)
def test_random_bytes_at_any_bundle_path_load_or_raise_input_error(rel: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b" / rel
        path.parent.mkdir(parents=True)
        (Path(tmp) / "b" / "k8s").mkdir(exist_ok=True)  # a bundle, not any folder
        path.write_bytes(data)
        message = _error_of(BundleSource(Path(tmp) / "b").load)
    if message is not None:
        assert message.startswith(f"{rel}: "), message
        assert "\n" not in message
