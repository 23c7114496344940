"""Hostile and broken bundles: each is refused with one line naming the file and the problem,
and nothing is written outside the private temp folder (checked by the autouse fixture)."""

from __future__ import annotations

import io
import shutil
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from source_helpers import BAD, BUNDLES, assert_one_line, member, pack, tar_with

from netdoctor.errors import BundleError, InputError, ParseError
from netdoctor.sources import BundleSource

MiB = 2**20

# corpus file in fixtures/bad -> where it goes in a bundle, and what the message must say
CORPUS = [
    ("truncated-pods.json", "k8s/pods.json", "truncated"),
    ("wrong-type-podip.json", "k8s/pods.json", "items[1].status.podIP: expected str, got int"),
    ("empty.json", "k8s/nodes.json", "empty file"),
    ("invalid-character.json", "k8s/services.json", "malformed JSON: invalid character at line 1"),
    ("nodes-items-not-a-list.json", "k8s/nodes.json", "items: expected array, got object"),
    ("malformed.yaml", "k8s/pods.yaml", "malformed YAML"),
    ("alias-bomb.yaml", "k8s/pods.yaml", "anchors and aliases are not supported"),
    ("deeply-nested.yaml", "k8s/pods.yaml", "YAML nested more than 256 deep at line 1"),
    ("deeply-nested.yaml", "bundle.yaml", "YAML nested more than 256 deep"),
    ("binary-garbage.bin", "k8s/pods.json", "malformed JSON"),
    ("binary-garbage.bin", "k8s/version.json", "k8s/version.json"),
    ("empty.json", "k8s/version.json", "empty file"),
    ("manifest-format-2.yaml", "bundle.yaml", "formatVersion 2 is not supported"),
    ("manifest-bad-port.yaml", "bundle.yaml", "question.port: expected a port like 22"),
    ("binary-garbage.bin", "bundle.yaml", "bundle.yaml"),
    ("empty.json", "bundle.yaml", "empty file"),
    ("probe-unknown-result.json", "probes/a-to-b.json", "result: 'maybe' is not one of"),
    ("binary-garbage.bin", "probes/a-to-b.json", "malformed JSON"),
    ("empty.json", "probes/a-to-b.json", "empty file"),
    ("nft-not-an-object.json", "nodes/n1/nft-ruleset.json", '{"nftables": [...]}'),
    ("binary-garbage.bin", "nodes/n1/nft-ruleset.json", "malformed JSON"),
    ("ip-addr-truncated.json", "nodes/n1/ip-addr.json", "nodes/n1/ip-addr.json"),
    ("binary-garbage.bin", "nodes/n1/ip-route.json", "nodes/n1/ip-route.json"),
    ("empty.json", "nodes/n1/ip-rule.json", "nodes/n1/ip-rule.json"),
    ("sysctl-garbage.txt", "nodes/n1/sysctl.txt", "line 2"),
    ("binary-garbage.bin", "nodes/n1/sysctl.txt", "nodes/n1/sysctl.txt"),
    ("iptables-no-commit.txt", "nodes/n1/iptables-save.txt", "COMMIT"),
    ("binary-garbage.bin", "pods/default/a/ip-addr.json", "pods/default/a/ip-addr.json"),
]


def _bundle_with(root: Path, corpus: str, rel: str) -> Path:
    shutil.copytree(BUNDLES / "yaml-lists", root)
    for old in root.glob("k8s/*"):
        if old.stem == Path(rel).stem and rel.startswith("k8s/"):
            old.unlink()  # the broken file replaces the good one of the same resource
    dest = root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BAD / corpus, dest)
    return root


@pytest.mark.parametrize(
    ("corpus", "rel", "fragment"), CORPUS, ids=[f"{c}@{r}" for c, r, _ in CORPUS]
)
def test_a_broken_file_in_a_folder_is_one_line_naming_its_bundle_path(
    tmp_path: Path, corpus: str, rel: str, fragment: str
) -> None:
    root = _bundle_with(tmp_path / "b", corpus, rel)
    with pytest.raises(ParseError) as e:
        BundleSource(root).load()
    assert e.value.file == rel
    assert str(e.value).startswith(f"{rel}: ")
    assert_one_line(str(e.value), fragment)


@pytest.mark.parametrize(
    ("corpus", "rel", "fragment"), CORPUS[::3], ids=[f"{c}@{r}" for c, r, _ in CORPUS[::3]]
)
def test_a_broken_file_in_an_archive_is_refused_and_the_temp_folder_removed(
    tmp_path: Path, private_tempdir: Path, corpus: str, rel: str, fragment: str
) -> None:
    root = _bundle_with(tmp_path / "b", corpus, rel)
    archive = pack(root, tmp_path / "b.tgz", prefix="b/")
    with pytest.raises(ParseError) as e:
        BundleSource(archive).load()
    assert str(e.value).startswith(f"{rel}: ")
    assert_one_line(str(e.value), fragment)
    assert list(private_tempdir.iterdir()) == []


# --- hostile archives ---------------------------------------------------------------------------

GOOD = (member("k8s/nodes.json"), b'{"kind": "List", "items": []}')


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../escape.txt", "member '../escape.txt' escapes the bundle"),
        ("b/../../escape.txt", "member 'b/../../escape.txt' escapes the bundle"),
        ("k8s/..", "member 'k8s/..' escapes the bundle"),
        ("..\\escape.txt", "member '..\\escape.txt' escapes the bundle"),
    ],
)
def test_a_member_with_dot_dot_is_refused_and_not_written_at_its_target(
    tmp_path: Path, private_tempdir: Path, name: str, problem: str
) -> None:
    archive = tar_with(tmp_path / "bundle.tgz", GOOD, (member(name), b"pwned\n"))
    with pytest.raises(BundleError) as e:
        BundleSource(archive).load()
    assert_one_line(str(e.value), f"{archive}: {problem}")
    assert not (private_tempdir / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert list(private_tempdir.iterdir()) == []


def test_a_member_with_an_absolute_path_is_refused(tmp_path: Path, private_tempdir: Path) -> None:
    target = tmp_path / "absolute-target.txt"
    archive = tar_with(tmp_path / "bundle.tgz", GOOD, (member(str(target)), b"pwned\n"))
    with pytest.raises(BundleError) as e:
        BundleSource(archive).load()
    assert_one_line(str(e.value), f"member '{target}' has an absolute path")
    assert not target.exists()


@pytest.mark.parametrize(
    ("kind", "linkname", "problem"),
    [
        (tarfile.SYMTYPE, "/etc/passwd", "is a symbolic link"),
        (tarfile.SYMTYPE, "../../../../etc", "is a symbolic link"),
        (tarfile.LNKTYPE, "k8s/nodes.json", "is a hard link"),
        (tarfile.CHRTYPE, "", "is a device file"),
        (tarfile.BLKTYPE, "", "is a device file"),
        (tarfile.FIFOTYPE, "", "is a FIFO"),
    ],
)
def test_links_devices_and_fifos_in_an_archive_are_refused(
    tmp_path: Path, private_tempdir: Path, kind: bytes, linkname: str, problem: str
) -> None:
    archive = tar_with(
        tmp_path / "bundle.tgz", GOOD, (member("k8s/pods.json", kind, linkname), None)
    )
    with pytest.raises(BundleError) as e:
        BundleSource(archive).load()
    assert_one_line(str(e.value), f"{archive}: member 'k8s/pods.json' {problem}")
    assert list(private_tempdir.iterdir()) == []


def test_a_control_character_in_a_member_name_is_escaped_in_the_message(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "b.tgz", (member("../x\nFAKE LINE"), b""))
    with pytest.raises(BundleError) as e:
        BundleSource(archive).load()
    assert_one_line(str(e.value), "member '../x\\nFAKE LINE' escapes the bundle")


# --- bombs and size limits ----------------------------------------------------------------------


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


@pytest.fixture(scope="module")
def zeros_200mb_tgz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, complete .tgz whose k8s/pods.json is 200 MiB of zeros (~200 KiB packed)."""
    path = tmp_path_factory.mktemp("bombs") / "zeros.tgz"
    with tarfile.open(path, "w:gz", compresslevel=9) as tf:
        info = member("bundle/k8s/pods.json")
        info.size = 200 * MiB
        tf.addfile(info, io.BufferedReader(_Zeros(info.size), buffer_size=MiB))
    return path


def test_a_200mb_highly_compressible_member_trips_the_ratio_limit_early(
    zeros_200mb_tgz: Path, private_tempdir: Path
) -> None:
    assert zeros_200mb_tgz.stat().st_size < 2 * MiB
    start = time.monotonic()
    with pytest.raises(BundleError) as e:
        BundleSource(zeros_200mb_tgz).load()
    assert_one_line(
        str(e.value),
        f"{zeros_200mb_tgz}: member 'bundle/k8s/pods.json' expands more than 200 times",
    )
    assert time.monotonic() - start < 5
    assert list(private_tempdir.iterdir()) == []


def test_the_total_cap_stops_unpacking_when_the_ratio_allows_it(zeros_200mb_tgz: Path) -> None:
    with pytest.raises(BundleError) as e:
        BundleSource(zeros_200mb_tgz, max_member_ratio=100_000, max_total_bytes=50 * MiB).load()
    assert_one_line(str(e.value), "unpacks to more than 50 MiB")


def test_a_member_over_the_per_file_cap_is_refused_from_its_header(zeros_200mb_tgz: Path) -> None:
    with pytest.raises(BundleError) as e:
        BundleSource(zeros_200mb_tgz, max_file_bytes=10 * MiB).load()
    assert_one_line(str(e.value), "member 'bundle/k8s/pods.json' is 200 MiB, over the 10 MiB limit")


def _bomb_head(claimed: int, zeros: int) -> bytes:
    """The start of a .tgz whose one member claims ``claimed`` bytes: its header, then
    ``zeros`` zero bytes, gzip-compressed, and no end (a bomb is never read to its end)."""
    info = member("k8s/pods.json")
    info.size = claimed
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(info.tobuf(format=tarfile.PAX_FORMAT))]
    chunk = bytes(MiB)
    out += [z.compress(chunk) for _ in range(zeros // MiB)]
    out.append(z.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def test_a_gzip_bomb_claiming_4_gib_is_stopped_after_a_few_mib(
    tmp_path: Path, private_tempdir: Path
) -> None:
    bomb = tmp_path / "bomb.tgz"
    bomb.write_bytes(_bomb_head(4 * 2**30, 64 * MiB))
    assert bomb.stat().st_size < 200_000
    start = time.monotonic()
    with pytest.raises(BundleError) as e:
        BundleSource(bomb).load()
    assert_one_line(str(e.value), "member 'k8s/pods.json' expands more than 200 times")
    assert time.monotonic() - start < 5
    assert list(private_tempdir.iterdir()) == []


def test_a_member_claiming_more_than_the_total_cap_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.tgz"
    bomb.write_bytes(_bomb_head(16 * 2**30, MiB))
    with pytest.raises(BundleError) as e:
        BundleSource(bomb).load()
    assert_one_line(str(e.value), "unpacks to more than 8 GiB at member 'k8s/pods.json'")


def test_gzip_of_zeros_that_holds_no_tar_is_an_empty_archive(tmp_path: Path) -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = b"".join(z.compress(bytes(MiB)) for _ in range(100)) + z.flush()
    (tmp_path / "zeros.tgz").write_bytes(data)
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "zeros.tgz").load()
    assert_one_line(str(e.value), "zeros.tgz: the archive is empty")


def test_gzip_magic_followed_by_garbage_is_not_a_readable_archive(tmp_path: Path) -> None:
    (tmp_path / "b.tgz").write_bytes(b"\x1f\x8b" + (BAD / "binary-garbage.bin").read_bytes())
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "b.tgz").load()
    assert_one_line(str(e.value), "b.tgz: not a readable .tar.gz/.tgz/.tar archive")


def test_a_truncated_tgz_is_refused_and_leaves_nothing_behind(
    tmp_path: Path, private_tempdir: Path
) -> None:
    whole = pack(BUNDLES / "basic", tmp_path / "whole.tgz").read_bytes()
    (tmp_path / "cut.tgz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "cut.tgz").load()
    assert_one_line(str(e.value), "cut.tgz: not a readable .tar.gz/.tgz/.tar archive")
    assert list(private_tempdir.iterdir()) == []


@pytest.fixture
def sparse_200mb_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder bundle whose k8s/pods.json is a 200 MiB sparse file (no disk space used)."""
    root = tmp_path / "big"
    shutil.copytree(BUNDLES / "yaml-lists", root)
    (root / "k8s" / "pods.yml").unlink()
    with open(root / "k8s" / "pods.json", "wb") as f:
        f.truncate(200 * MiB)
    return root


def test_a_200mb_folder_file_over_a_configured_cap_is_refused_unread(
    sparse_200mb_folder: Path,
) -> None:
    with pytest.raises(BundleError) as e:
        BundleSource(sparse_200mb_folder, max_file_bytes=10 * MiB).load()
    assert str(e.value) == "k8s/pods.json: 200 MiB, over the 10 MiB limit for one file"


def test_a_folder_over_the_total_cap_is_refused(sparse_200mb_folder: Path) -> None:
    with pytest.raises(BundleError) as e:
        BundleSource(sparse_200mb_folder, max_total_bytes=100 * MiB).load()
    assert_one_line(str(e.value), "k8s/pods.json: reading it would take the bundle over 100 MiB")


def test_every_refusal_is_an_input_error_with_exit_status_2(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "b.tgz", (member("../x"), b""))
    with pytest.raises(InputError) as e:
        BundleSource(archive).load()
    assert e.value.exit_status == 2


@pytest.mark.parametrize(
    "files",
    [
        {},  # an empty folder
        {"README.md": b"notes\n", "foo/a.txt": b"x\n"},  # some other folder
        {"bundle.yaml": b"formatVersion: 1\n", "probes/a-to-b.json": b"{}"},  # no cluster data
    ],
)
def test_a_folder_with_neither_k8s_nor_nodes_is_not_a_bundle(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    root = tmp_path / "b"
    root.mkdir()
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    with pytest.raises(BundleError) as e:
        BundleSource(root).load()
    assert e.value.exit_status == 2
    assert_one_line(str(e.value), f"{root}: not a bundle: no k8s/ and no nodes/ folder")
