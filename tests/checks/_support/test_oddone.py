"""The odd-one-out rule: a small minority against a clear majority, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdoctor.catalog import load_catalog
from netdoctor.checks._support.oddone import TOPICS, odd_one_out


def test_one_node_with_another_mtu_is_named_with_the_majority_value() -> None:
    got = odd_one_out({"n1": "1500", "n2": "1500", "n3": "9000", "n4": "1500"})
    assert got is not None
    assert got.nodes == ("n3",)
    assert got.majority == "1500"
    assert (got.majority_count, got.total) == (3, 4)
    note = got.note("mtu", iface="eth0")
    assert note.key == "note.odd_one_out.mtu"
    assert note.params["value"] == "9000"


@pytest.mark.parametrize(
    "values",
    [
        {"n1": "1500", "n2": "9000"},  # too few nodes to call anyone odd
        {"n1": "a", "n2": "a", "n3": "b", "n4": "b"},  # two camps, no normal
        {"n1": "a", "n2": "b", "n3": "c"},  # all different
        {"n1": "a", "n2": "a", "n3": "a"},  # all alike
        {"n1": "a", "n2": "a", "n3": "a", "n4": "b", "n5": "c"},  # 2 of 5 differ: not a few
    ],
)
def test_no_odd_one_out_without_a_clear_majority_and_a_small_minority(
    values: dict[str, str],
) -> None:
    assert odd_one_out(values) is None


@given(st.dictionaries(st.sampled_from([f"n{i}" for i in range(9)]), st.sampled_from("abc")))
def test_the_odd_nodes_are_exactly_those_off_the_majority_and_few(values: dict[str, str]) -> None:
    got = odd_one_out(values)
    if got is None:
        return
    assert set(got.nodes) == {n for n, v in values.items() if v != got.majority}
    assert got.majority_count * 2 > len(values)
    assert len(got.nodes) * 3 <= len(values)


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_topic_has_a_note_in_both_languages(topic: str, lang: str) -> None:
    got = odd_one_out({"n1": "x", "n2": "x", "n3": "y"})
    assert got is not None
    note = got.note(topic, iface="eth0", key="net.ipv4.ip_forward", agent="calico-node")
    text = load_catalog().render(note, lang)  # type: ignore[arg-type]  # "en" | "zh"
    assert "n3" in text
    assert "{" not in text
