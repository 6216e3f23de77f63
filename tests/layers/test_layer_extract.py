"""extract_stack: the stack as real files in a temp opt root, safely."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from layerzips import Raw, exe, file, link

from openruntime.layers import HostileZipError, LayerError, extract_stack
from openruntime.layers.limits import MAX_UNZIPPED_BYTES

MakeZip = Callable[..., Path]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_extraction_preserves_run_bits_and_later_layers_win(make_zip: MakeZip, tmp_path: Path) -> None:
    a = make_zip("a.zip", exe("bootstrap", b"#!/bin/sh\necho from-a\n"), file("shared.txt", b"a"),
                 file("only-a.txt", b"a", 0o640), exe("middlewares/m/m"))
    b = make_zip("b.zip", exe("bootstrap", b"#!/bin/sh\necho from-b\n"), file("shared.txt", b"b"))
    root = extract_stack([a, b], tmp_path / "opt")
    assert root == (tmp_path / "opt").resolve()
    assert mode(root / "bootstrap") == 0o755
    assert mode(root / "middlewares" / "m" / "m") == 0o755
    assert mode(root / "shared.txt") == 0o644
    assert mode(root / "only-a.txt") == 0o640
    assert (root / "shared.txt").read_bytes() == b"b"
    assert (root / "only-a.txt").read_bytes() == b"a"
    run = subprocess.run([str(root / "bootstrap")], capture_output=True, text=True, check=True)
    assert run.stdout == "from-b\n"


def test_missing_run_bit_stays_missing(make_zip: MakeZip, tmp_path: Path) -> None:
    a = make_zip("a.zip", file("bootstrap", b"#!/bin/sh\n", 0o644))
    root = extract_stack([a], tmp_path / "opt")
    assert not os.access(root / "bootstrap", os.X_OK)


def test_entries_without_unix_modes_get_lambda_defaults(make_zip: MakeZip, tmp_path: Path) -> None:
    a = make_zip("a.zip", Raw("d/", unix=False), Raw("d/f.txt", b"x", unix=False))
    root = extract_stack([a], tmp_path / "opt")
    assert mode(root / "d" / "f.txt") == 0o644
    assert mode(root / "d") == 0o755


def test_symlinks_inside_the_root(make_zip: MakeZip, tmp_path: Path) -> None:
    a = make_zip("a.zip", exe("python/bin/python3.12", b"#!/bin/sh\necho py\n"),
                 link("python/bin/python3", "python3.12"),
                 link("bin/python3", "/opt/python/bin/python3.12"))
    root = extract_stack([a], tmp_path / "opt")
    assert os.readlink(root / "python/bin/python3") == "python3.12"
    # /opt/... targets are made relative, so they stay inside the temp root.
    assert os.readlink(root / "bin/python3") == "../python/bin/python3.12"
    assert (root / "bin/python3").resolve() == root / "python/bin/python3.12"


def test_a_later_file_replaces_an_earlier_symlink_instead_of_writing_through_it(
    make_zip: MakeZip, tmp_path: Path
) -> None:
    a = make_zip("a.zip", file("target.txt", b"keep"), link("x", "target.txt"))
    b = make_zip("b.zip", file("x", b"new"))
    root = extract_stack([a, b], tmp_path / "opt")
    assert not (root / "x").is_symlink()
    assert (root / "target.txt").read_bytes() == b"keep"


@pytest.mark.parametrize(
    "entry",
    [file("../escape.txt"), file("/tmp/escape.txt"), link("l", "../../escape"), link("l", "/etc")],
)
def test_hostile_zips_are_refused_before_anything_is_written(
    make_zip: MakeZip, tmp_path: Path, entry: Raw
) -> None:
    good = make_zip("good.zip", exe("bootstrap"))
    evil = make_zip("evil.zip", entry)
    dest = tmp_path / "opt"
    with pytest.raises(HostileZipError, match=r"evil\.zip: refusing entry"):
        extract_stack([good, evil], dest)
    assert not dest.exists()
    assert not (tmp_path / "escape.txt").exists()


def test_symlink_chains_cannot_lead_writes_out_of_the_root(make_zip: MakeZip, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "opt" / "deep" / "er").mkdir(parents=True)
    # Lexically each link stays inside; chained, `esc` is the directory above the root.
    a = make_zip("a.zip", link("deep/er/l", "../../x"), Raw("x/", mode=0o040755))
    b = make_zip("b.zip", link("esc", "deep/er/l/../.."))
    with pytest.raises(LayerError, match="symlink chain leads outside"):
        extract_stack([a, b], tmp_path / "opt")
    c = make_zip("c.zip", link("up", "deep/er/l/../.."), file("up/outside/pwned.txt"))
    with pytest.raises(LayerError, match="outside the opt root"):
        extract_stack([a, c], tmp_path / "opt2")
    assert list(outside.iterdir()) == []


def test_file_versus_directory_conflicts(make_zip: MakeZip, tmp_path: Path) -> None:
    a = make_zip("a.zip", file("thing"))
    b = make_zip("b.zip", file("thing/inside"))
    with pytest.raises(LayerError, match="an earlier layer made it a file"):
        extract_stack([a, b], tmp_path / "opt")


def test_limits_are_enforced(make_zip: MakeZip, tmp_path: Path) -> None:
    zips = [make_zip(f"l{i}.zip", file(f"f{i}")) for i in range(6)]
    with pytest.raises(LayerError, match="at most 5"):
        extract_stack(zips, tmp_path / "opt")
    root = extract_stack(zips, tmp_path / "opt", enforce_limits=False)
    assert sorted(p.name for p in root.iterdir()) == [f"f{i}" for i in range(6)]
    big = make_zip("big.zip", Raw("big", b"x", declared_size=MAX_UNZIPPED_BYTES + 1))
    with pytest.raises(LayerError, match="unzip to 250.0 MB"):
        extract_stack([big], tmp_path / "opt3")
