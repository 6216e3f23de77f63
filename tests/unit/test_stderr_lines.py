"""Bounded STDERR logging: lines as they come, long lines split, a budget, the tail kept."""

from __future__ import annotations

import pytest

from openruntime.middleware.stderr_lines import StderrLines, log_answer_lines


def test_lines_are_logged_as_they_come_and_long_ones_split(capfd: pytest.CaptureFixture[str]) -> None:
    out = StderrLines("mw", "req-1", max_line=10)
    out.feed(b"one\ntw")
    assert capfd.readouterr().err == "[mw] req-1 one\n"  # the unfinished line waits
    out.feed(b"o\n" + b"x" * 25)
    assert capfd.readouterr().err.splitlines() == ["[mw] req-1 two", f"[mw] req-1 {'x' * 10}",
                                                   f"[mw] req-1 {'x' * 10}"]
    out.finish()
    assert capfd.readouterr().err == "[mw] req-1 xxxxx\n"


def test_past_the_budget_lines_are_counted_not_logged(capfd: pytest.CaptureFixture[str]) -> None:
    out = StderrLines("mw", "req-1", budget=30)  # the first line, tagged, is 22 bytes
    out.feed(b"0123456789\n" + b"y" * 100 + b"\nlast\n")
    out.finish()
    logged = capfd.readouterr().err.splitlines()
    assert logged[0] == "[mw] req-1 0123456789"
    # Once over, the rest goes too (no confusing subset): 101 + 5 bytes, newlines counted.
    assert logged[1:] == ["[mw] req-1 [openruntime] 106 more bytes of STDERR not logged (over 30 bytes in one invocation)"]
    out.start_invocation("req-2")  # a new invocation, a new budget
    out.feed(b"fresh\n")
    assert capfd.readouterr().err == "[mw] req-2 fresh\n"


def test_the_tail_is_the_last_bytes_whatever_the_flood() -> None:
    out = StderrLines("mw", budget=0)
    for _ in range(1000):
        out.feed(b"z" * 4096)
    out.feed(b"\nwhy it failed\n")
    assert out.tail().endswith("z\nwhy it failed") and len(out.tail()) <= 2048


def test_a_flood_of_empty_lines_is_bounded_by_what_it_becomes_in_the_log(capfd: pytest.CaptureFixture[str]) -> None:
    out = StderrLines("mw", "00000000-0000-0000-0000-000000000000", budget=64 * 1024)
    out.feed(b"\n" * 64 * 1024)  # 64 KiB in, ~3 MB of tagged lines if each counted one byte
    out.finish()
    assert len(capfd.readouterr().err) <= 64 * 1024 + 200


@pytest.mark.parametrize("char", ["a", "中", "😀"])
def test_the_budget_is_in_bytes_whatever_the_characters(char: str, capfd: pytest.CaptureFixture[str]) -> None:
    out = StderrLines("mw", "req-1", budget=64 * 1024)
    for _ in range(200):
        out.feed((char * 1000 + "\n").encode())  # 200 lines of 1,000 characters: 1 to 4 bytes each
    out.finish()
    assert len(capfd.readouterr().err.encode()) <= 64 * 1024 + 200


@pytest.mark.parametrize("char", ["x", "中"])
def test_a_long_answer_line_is_split_in_byte_pieces_as_on_stderr(char: str, capfd: pytest.CaptureFixture[str]) -> None:
    log_answer_lines("mw", "req-1", [char * 21_000])
    pieces = capfd.readouterr().err.splitlines()
    assert all(len(piece.encode()) <= len("[mw] req-1 ") + 32 * 1024 for piece in pieces)
    assert "".join(piece.removeprefix("[mw] req-1 ") for piece in pieces) == char * 21_000
    assert len(pieces) == (1 if char == "x" else 2)


def test_an_answers_log_budget_is_in_bytes(capfd: pytest.CaptureFixture[str]) -> None:
    log_answer_lines("mw", "req-1", ["中" * 100] * 2000)  # 600 KB of UTF-8, 200,000 characters
    assert len(capfd.readouterr().err.encode()) <= 256 * 1024 + 200
