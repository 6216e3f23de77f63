"""The function's log on a terminal: a traceback joined with \\r (awslambdaric's way of
keeping it one CloudWatch event) is drawn line under line, not each over the last; what
the log records (its lines, a Tail) is left as the function wrote it."""

from __future__ import annotations

import os
import pty
import select

from openruntime.emulator.output import OutputTee

LINE = b"[ERROR] ValueError: boom\rTraceback (most recent call last):\r  File \"/var/task/app.py\", line 2\r\n"


def _read_all(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _tee(target_fd: int) -> list[str]:
    read_end, write_end = os.pipe()
    lines: list[str] = []
    tee = OutputTee(os.fdopen(read_end, "rb", buffering=0), target_fd, lines.append)
    os.write(write_end, LINE)
    os.close(write_end)
    tee.drain()
    tee.drain()  # the end
    return lines


def test_on_a_terminal_each_line_of_the_traceback_has_its_own_row() -> None:
    master, slave = pty.openpty()
    try:
        lines = _tee(slave)
        shown = _read_all(master)
    finally:
        os.close(slave)
        os.close(master)
    assert b"boom\r\nTraceback (most recent call last):\r\n  File" in shown  # the tty adds \r to each \n
    assert lines == [LINE.rstrip(b"\n").decode()]  # the log's own line: as written


def test_elsewhere_the_bytes_are_passed_on_as_they_came() -> None:
    read_end, write_end = os.pipe()
    try:
        _tee(write_end)
        assert _read_all(read_end) == LINE
    finally:
        os.close(read_end)
        os.close(write_end)
