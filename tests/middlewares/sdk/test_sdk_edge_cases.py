"""SDK corners a middleware author runs into: async hooks, hooks that never finish,
child processes that write to STDOUT or read STDIN."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mw_harness import REPO, Persistent, needs_node, run_exec

LIB = REPO / "middlewares" / "lib"
Spawn = Callable[..., Persistent]


def python_mw(folder: Path, body: str) -> Path:
    exe = folder / "py_mw"
    exe.write_text(
        "#!/usr/bin/env python3\nimport sys\n"
        f"sys.path.insert(0, {str(LIB / 'python')!r})\n"
        "from openruntime_middleware import *\n" + body + "\nrun()\n"
    )
    exe.chmod(0o755)
    return exe


def node_mw(folder: Path, body: str) -> Path:
    exe = folder / "node_mw"
    exe.write_text(
        "#!/usr/bin/env node\n"
        f"const mw = require({json.dumps(str(LIB / 'node' / 'openruntime-middleware.js'))});\n"
        + body + "\nmw.run();\n"
    )
    exe.chmod(0o755)
    return exe


ASYNC_PY = """
import asyncio

@before
async def slow(event, ctx):
    await asyncio.sleep(0.01)
    return {"async": event}
"""


def test_python_async_hooks_in_both_modes(tmp_path: Path, spawn: Spawn) -> None:
    exe = python_mw(tmp_path, ASYNC_PY)
    assert run_exec(exe, "before", b"1").json() == {"async": 1}
    mw = spawn(exe)
    assert [mw.call("before", b"[%d]" % i).json() for i in range(3)] == [{"async": [i]} for i in range(3)]


CHILDREN_PY = """
import subprocess

@before
def shell_out(event, ctx):
    subprocess.run(["echo", "child stdout"])            # inherits fd 1
    got = subprocess.run(["cat"], capture_output=False, stdout=subprocess.PIPE).stdout
    return {"child_read": got.decode()}                 # inherits fd 0
"""


def test_python_children_cannot_touch_the_protocol_pipes(tmp_path: Path, spawn: Spawn) -> None:
    mw = spawn(python_mw(tmp_path, CHILDREN_PY))
    assert mw.call("before", b"{}").json() == {"child_read": ""}
    assert mw.call("before", b"{}").json() == {"child_read": ""}
    assert "child stdout" in mw.stderr()
    mw.assert_quiet()


@needs_node
def test_node_hook_that_never_settles_fails_instead_of_answering_empty(tmp_path: Path) -> None:
    exe = node_mw(tmp_path, "mw.before(() => new Promise(() => {}));")
    result = run_exec(exe, "before", b'{"a": 1}')
    assert result.status == 1
    assert result.stdout == b""
    assert "never finished" in result.stderr


@needs_node
def test_node_async_hooks_run_one_at_a_time_in_order(tmp_path: Path, spawn: Spawn) -> None:
    body = """
let running = 0;
mw.before(async (event) => {
  running += 1;
  const overlap = running > 1;
  await new Promise((r) => setTimeout(r, 5));
  running -= 1;
  return { n: event.n, overlap };
});
"""
    mw = spawn(node_mw(tmp_path, body))
    frames = b"".join(
        json.dumps({"hook": "before", "content_type": "application/json", "length": len(p)}).encode() + b"\n" + p
        for p in (json.dumps({"n": i}).encode() for i in range(5))
    )
    mw.send_raw(frames)  # all five at once: answers must still come one per request, in order
    assert [mw.read_frame().json() for _ in range(5)] == [{"n": i, "overlap": False} for i in range(5)]


def test_python_respond_in_after_is_a_plain_continue(tmp_path: Path, spawn: Spawn) -> None:
    exe = python_mw(tmp_path, "after(lambda response, ctx: Respond({'replaced': True}))")
    result = run_exec(exe, "after", b"{}")
    assert (result.status, result.json()) == (0, {"replaced": True})
    answer = spawn(exe).call("after", b"{}")
    assert (answer.action, answer.json()) == ("continue", {"replaced": True})
