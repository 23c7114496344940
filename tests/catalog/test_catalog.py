"""The catalog owns the words: every id documented in both languages with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netdoctor.catalog import LANGS, SECTIONS, default_lang, load_catalog, placeholders
from netdoctor.checks import REGISTRY
from netdoctor.checks._support.registry import family_modules

CAT = load_catalog()
PKG = Path(__file__).resolve().parents[2] / "netdoctor"
ROOT_CAUSES_DOC = Path(__file__).resolve().parents[3] / "shared" / "docs" / "root-causes.md"


def test_every_registered_check_has_a_catalog_entry_with_its_code():
    for spec in REGISTRY.values():
        entry = CAT.entry(spec.id)
        assert entry is not None, spec.id
        assert entry.code == spec.code


def test_each_check_module_and_its_catalog_file_share_a_name():
    # checks/overlay/mtu.py reports the ids of rootcauses/overlay/mtu.yaml, and no other file's
    for spec in REGISTRY.values():
        entry = CAT.entry(spec.id)
        assert entry is not None, spec.id
        assert entry.module == spec.module, spec.id
    check_modules = {
        name.removeprefix("netdoctor.checks.").replace(".", "/") for name in family_modules()
    }
    for entry in CAT.entries.values():
        assert entry.module in check_modules, (entry.id, entry.module)


@pytest.mark.parametrize("entry", list(CAT.entries.values()), ids=lambda e: e.code)
def test_entry_has_every_section_in_both_languages(entry):
    for section in SECTIONS:
        for lang in LANGS:
            assert entry.doc[section][lang].strip(), (entry.id, section, lang)
    assert entry.references, entry.id
    assert entry.about["en"]
    assert entry.about["zh"]


@pytest.mark.parametrize("entry", list(CAT.entries.values()), ids=lambda e: e.code)
def test_titles_use_the_same_placeholders_in_both_languages(entry):
    assert "default" in entry.titles
    for variant, texts in entry.titles.items():
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), (entry.id, variant)


def test_messages_use_the_same_placeholders_in_both_languages():
    for key, texts in CAT.messages.items():
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), key


def test_chinese_text_is_chinese():
    han = re.compile(r"[\u4e00-\u9fff]")
    for entry in CAT.entries.values():
        for variant, texts in entry.titles.items():
            assert han.search(texts["zh"]), (entry.id, variant)
        for section in SECTIONS:
            assert han.search(entry.doc[section]["zh"]), (entry.id, section)


def test_every_message_key_used_in_the_code_exists_in_the_catalog():
    used = set()
    for path in PKG.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'Message\(\s*"([a-z_.0-9]+)"', text))
        used |= set(re.findall(r'cat(?:alog)?\.text\(\s*"([a-z_.0-9]+)"\s*[,)]', text))
        used |= set(re.findall(r'key="(error\.[a-z_.0-9]+)"', text))
    assert used, "the scan found no message keys: the pattern is stale"
    missing = sorted(k for k in used if k not in CAT.messages)
    assert missing == []


def test_variants_named_in_the_code_exist_for_their_id():
    for path in (PKG / "checks").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for id_ in re.findall(r'id="([a-z0-9-]+)"', text):
            entry = CAT.entry(id_)
            assert entry is not None, id_
        for variant in re.findall(r'variant="([a-z_]+)"', text):
            assert any(variant in e.titles for e in CAT.entries.values()), variant


@pytest.mark.skipif(not ROOT_CAUSES_DOC.exists(), reason="shared/docs not beside the project")
def test_ids_and_codes_agree_with_the_shared_root_cause_catalog():
    rows = dict(
        re.findall(r"^\| ([a-z0-9-]+) \| (NET-\d{3}) \|", ROOT_CAUSES_DOC.read_text(), re.M)
    )
    for entry in CAT.entries.values():
        if entry.id in rows:
            assert rows[entry.id] == entry.code, entry.id
        else:
            assert entry.code not in rows.values(), (
                f"{entry.code} is taken by another id in root-causes.md"
            )


def test_explain_finds_an_entry_by_code_in_any_case_and_by_id():
    assert CAT.entry("net-301") is CAT.entry("calico-node-address-mismatch")
    assert CAT.entry("NET-999") is None


def test_locale_picks_chinese_only_for_zh():
    assert default_lang({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert default_lang({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert default_lang({}) == "en"
    assert default_lang({"LANG": "C.UTF-8"}) == "en"


def test_every_input_note_reason_a_source_gives_has_catalog_words():
    reasons = set()
    for path in [*(PKG / "sources").glob("*.py"), PKG / "parsers" / "bundle_files.py"]:
        text = path.read_text(encoding="utf-8")
        reasons |= set(re.findall(r'reason="([a-z_]+)"', text))
        reasons |= set(re.findall(r'self\.ignore\(\s*\w+,\s*"([a-z_]+)"', text))
    assert len(reasons) >= 10, reasons
    assert sorted(r for r in reasons if f"input.{r}" not in CAT.messages) == []


def test_chinese_text_has_no_space_between_two_chinese_characters():
    between = re.compile(
        r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef] [\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]"
    )
    texts = [t["zh"] for t in CAT.messages.values()]
    for entry in CAT.entries.values():
        texts += [entry.doc[s]["zh"] for s in SECTIONS] + [t["zh"] for t in entry.titles.values()]
    assert [t for t in texts if between.search(t)] == []
