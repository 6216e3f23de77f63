"""`openruntime layer inspect`: stack simulation, conflicts, run bits, limits, hostile zips."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from layerzips import HOST, Raw, exe, file, link

from openruntime.cli.layer import main as layer_cli
from openruntime.layers import HostileZipError, inspect_stack
from openruntime.layers.limits import MAX_UNZIPPED_BYTES

MakeZip = Callable[..., Path]


def codes(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.code for f in report.findings]


def test_overwrites_are_reported_in_order_with_the_winner(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", exe("bootstrap"), file("shared/x.txt", b"a"), file("only-a", b"a"))
    b = make_zip("b.zip", file("shared/x.txt", b"b"), file("shared/y.txt"))
    c = make_zip("c.zip", exe("bootstrap"), file("shared/x.txt", b"c"), file("shared/y.txt"))
    report = inspect_stack([a, b, c])
    assert [(o.path, o.layers, o.winner) for o in report.overwrites] == [
        ("bootstrap", ["a.zip", "c.zip"], "c.zip"),
        ("shared/x.txt", ["a.zip", "b.zip", "c.zip"], "c.zip"),
        ("shared/y.txt", ["b.zip", "c.zip"], "c.zip"),
    ]
    assert report.ok, report.findings
    assert [s.label for s in report.layers] == ["a.zip", "b.zip", "c.zip"]
    # Reversing the stack reverses who wins.
    flipped = inspect_stack([c, b, a])
    assert {o.path: o.winner for o in flipped.overwrites}["shared/x.txt"] == "a.zip"


def test_directories_merge_without_being_reported(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", Raw("python/", mode=0o040755), file("python/a.py"))
    b = make_zip("b.zip", Raw("python/", mode=0o040755), file("python/b.py"))
    report = inspect_stack([a, b])
    assert report.overwrites == []
    assert report.ok


def test_missing_run_bits_on_bootstrap_and_middlewares(make_zip: MakeZip) -> None:
    a = make_zip(
        "a.zip",
        file("bootstrap", b"#!/bin/sh\n", 0o644),
        file("middlewares/plain", b"#!/bin/sh\n", 0o644),
        file("middlewares/folder/folder", b"#!/bin/sh\n", 0o744),  # x for owner only
        file("middlewares/folder/helper.py", b"", 0o644),  # not the executable: fine
        file("middlewares/lib/python/sdk.py", b"", 0o644),  # SDK, not a middleware
        file("middlewares/README.md", b"", 0o644),
        exe("middlewares/good"),
        Raw("middlewares/nomode", b"#!/bin/sh\n", unix=False),
    )
    report = inspect_stack([a])
    assert not report.ok
    bad = sorted(f.path for f in report.findings if f.code == "not-executable")
    assert bad == ["bootstrap", "middlewares/folder/folder", "middlewares/nomode", "middlewares/plain"]
    msg = next(f.message for f in report.findings if f.path == "bootstrap")
    assert "mode 0644" in msg and "0755" in msg
    # A later layer that fixes the bootstrap fixes the stack's bootstrap.
    fix = make_zip("fix.zip", exe("bootstrap"))
    again = inspect_stack([a, fix])
    assert "bootstrap" not in [f.path for f in again.findings if f.code == "not-executable"]


def test_symlinked_entry_points_are_checked_through_the_link(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", link("bootstrap", "bin/real"), file("bin/real", b"", 0o644))
    report = inspect_stack([a])
    assert [f.path for f in report.findings if f.code == "not-executable"] == ["bootstrap"]
    b = make_zip("b.zip", link("bootstrap", "/opt/bin/real"), exe("bin/real"))
    assert inspect_stack([b]).ok


def test_unreadable_files_are_warned_about(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", file("python/secret.py", b"", 0o600))
    report = inspect_stack([a])
    assert report.ok  # a warning, not an error
    assert "not-readable" in codes(report)


def test_type_conflicts_between_layers(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", file("thing"))
    b = make_zip("b.zip", file("thing/inside"))
    report = inspect_stack([a, b])
    assert "type-conflict" in codes(report)
    assert not report.ok


def test_more_than_five_layers_is_an_error(make_zip: MakeZip) -> None:
    zips = [make_zip(f"l{i}.zip", file(f"f{i}")) for i in range(6)]
    assert inspect_stack(zips[:5]).ok
    report = inspect_stack(zips)
    assert "too-many-layers" in codes(report)
    assert "at most 5" in next(f.message for f in report.findings if f.code == "too-many-layers")


def test_unzipped_size_limit_uses_declared_sizes(make_zip: MakeZip) -> None:
    half = MAX_UNZIPPED_BYTES // 2 + 1
    a = make_zip("a.zip", Raw("python/big.bin", b"small", declared_size=half))
    b = make_zip("b.zip", Raw("lib/big.so", b"small", declared_size=half))
    assert inspect_stack([a]).ok
    report = inspect_stack([a, b])
    assert report.unzipped_bytes == 2 * half
    assert "too-large" in codes(report)
    assert "250.0 MB" in next(f.message for f in report.findings if f.code == "too-large")


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (file("../evil.sh"), "zip slip"),
        (file("python/../../evil.sh"), "zip slip"),
        (file("/etc/passwd"), "absolute path"),
        (file("C:/windows/evil"), "absolute path"),
        (file("dir\\evil"), "backslash"),
        (link("bin/sh", "/etc/shadow"), "symlink points outside /opt"),
        (link("a/b", "../../etc/passwd"), "symlink points outside /opt"),
        (Raw("dev", mode=0o020644), "special file"),
    ],
)
def test_hostile_entries_are_refused_naming_zip_and_entry(
    make_zip: MakeZip, entry: Raw, why: str
) -> None:
    good = make_zip("good.zip", exe("bootstrap"))
    bad = make_zip("evil.zip", file("ok.txt"), entry)
    with pytest.raises(HostileZipError) as info:
        inspect_stack([good, bad])
    message = str(info.value)
    assert "evil.zip" in message and repr(entry.name) in message and why in message


def test_duplicate_entries_are_refused(make_zip: MakeZip) -> None:
    bad = make_zip("dup.zip", file("bootstrap", b"one"), file("bootstrap", b"two"))
    with pytest.raises(HostileZipError, match=r"dup\.zip: refusing entry 'bootstrap': duplicate entry"):
        inspect_stack([bad])
    sneaky = make_zip("dup2.zip", file("a/b"), file("a/./b"))
    with pytest.raises(HostileZipError, match="duplicate entry"):
        inspect_stack([sneaky])


def test_symlinks_inside_opt_are_fine(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", exe("bootstrap"), file("python/lib/x.py"),
                 link("python/current", "lib"), link("bin/x", "/opt/python/lib/x.py"))
    assert inspect_stack([a]).ok


def test_symlink_chain_leaving_opt_is_a_warning_in_the_merged_view(make_zip: MakeZip) -> None:
    a = make_zip("a.zip", link("deep/er/l", "../../x"), Raw("x/", mode=0o040755))
    b = make_zip("b.zip", link("esc", "deep/er/l/../.."))
    report = inspect_stack([a, b])
    assert "dangling-symlink" in codes(report)


def test_cli_human_and_json_output(make_zip: MakeZip, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_zip("a.zip", exe("bootstrap"), file("x"))
    b = make_zip("b.zip", file("bootstrap", b"", 0o644), file("x"))
    assert layer_cli(["layer", "inspect", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "bootstrap: a.zip -> b.zip  (wins: b.zip)" in out
    assert "bootstrap: not executable" in out
    assert out.rstrip().endswith("FAILED")

    assert layer_cli(["layer", "inspect", "--json", str(b), str(a)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {o["path"]: o["winner"] for o in data["overwrites"]} == {"bootstrap": "a.zip", "x": "a.zip"}
    assert data["overwrites"][0]["layers"] == ["b.zip", "a.zip"]
    assert data["limits"] == {"max_layers": 5, "max_unzipped_bytes": MAX_UNZIPPED_BYTES}

    evil = make_zip("evil.zip", file("../x"))
    assert layer_cli(["layer", "inspect", "--json", str(evil)]) == 1
    err = json.loads(capsys.readouterr().out)
    assert err["ok"] is False and "evil.zip" in err["error"] and "'../x'" in err["error"]
    assert layer_cli(["layer", "inspect", str(evil.parent / "missing.zip")]) == 1
    assert "missing.zip: no such file" in capsys.readouterr().err


def test_inspect_of_built_layers_is_clean(tmp_path: Path) -> None:
    from openruntime.layers import build_layers

    report = build_layers(tmp_path, target=HOST)
    stack = inspect_stack([a.path for a in report.layers][:5])
    assert stack.ok, [f.message for f in stack.findings]
    assert stack.overwrites == []
