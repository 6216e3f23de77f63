"""Streaming handlers in the bundled Python runtime: a generator (or async generator)
handler's yields go out in Lambda's streaming mode as they are produced, through the
orchestrator like any runtime's stream. (awslambdaric has no streaming: nothing to compare.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import orchestrated, write_pipeline

APP = """\
import os, time
from openruntime_python_runtime.streaming import streaming

@streaming(content_type="text/plain; charset=utf-8")
def handler(event, context):
    yield "first\\n"
    while not os.path.exists(event["gate"]):   # the caller has the first chunk only after a real stream
        time.sleep(0.01)
    yield b"second\\n"
    yield {"third": [3]}
    if event.get("fail"):
        raise ValueError(event["fail"])

async def agen(event, context):
    yield "async "
    yield b"bytes"

def plain_generator(event, context):
    yield from (b"x" * 65536 for _ in range(event["chunks"]))

def big(event, context):
    for _ in range(40 * 16):  # 40 MB: far past what the middleware takes
        yield b"x" * 65536

def early(event, context):
    raise KeyError("before any byte")
    yield b"never"
"""


def function(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    return write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")


def streamed(tmp_path: Path, event: dict[str, object], handler: str | None = None) -> tuple[list[bytes], object]:
    gate = tmp_path / "gate"
    chunks: list[bytes] = []
    env = {"OPENRUNTIME_PYTHON": sys.executable, **({"OPENRUNTIME_HANDLER": handler} if handler else {})}
    with orchestrated(function(tmp_path), env=env) as emulator:
        result = emulator.invoke(json.dumps({"gate": str(gate), **event}).encode(), stream=True)
        assert result.stream is not None, result.body
        for chunk in result.stream:
            chunks.append(chunk)
            gate.touch()
        return chunks, result


def test_a_generator_handler_streams_each_yield_as_it_comes(tmp_path: Path) -> None:
    chunks, result = streamed(tmp_path, {})
    assert chunks[0] == b"first\n"  # alone: the handler waited for the caller to have it
    assert b"".join(chunks) == b'first\nsecond\n{"third": [3]}'
    assert result.stream.content_type == "text/plain; charset=utf-8"  # type: ignore[attr-defined]
    assert result.stream.error_type is None  # type: ignore[attr-defined]


def test_an_exception_after_the_first_chunk_ends_the_stream_with_the_error(tmp_path: Path) -> None:
    chunks, result = streamed(tmp_path, {"fail": "disk full"})
    stream = result.stream  # type: ignore[attr-defined]
    assert b"".join(chunks) == b'first\nsecond\n{"third": [3]}'
    assert stream.error_type == "ValueError"
    error = json.loads(stream.error_body)
    assert error["errorMessage"] == "disk full" and error["stackTrace"]


def test_async_generators_and_undecorated_generators_stream_too(tmp_path: Path) -> None:
    chunks, result = streamed(tmp_path, {}, handler="app.agen")
    assert b"".join(chunks) == b"async bytes"
    assert result.stream.content_type == "application/octet-stream"  # type: ignore[attr-defined]
    chunks, _ = streamed(tmp_path, {"chunks": 100}, handler="app.plain_generator")
    assert b"".join(chunks) == b"x" * 65536 * 100


def test_a_failure_before_the_first_byte_is_an_ordinary_invocation_error(tmp_path: Path) -> None:
    with orchestrated(function(tmp_path), env={"OPENRUNTIME_PYTHON": sys.executable,
                                               "OPENRUNTIME_HANDLER": "app.early"}) as emulator:
        result = emulator.invoke(b"{}", stream=True)
    assert result.stream is None and result.function_error
    assert json.loads(result.body)["errorType"] == "KeyError"


def test_a_stream_cut_off_past_a_buffering_middlewares_limit_is_one_line_in_the_log(tmp_path: Path) -> None:
    """A middleware with on_stream: buffer takes at most 6 MB; the 40 MB generator is cut off.
    The caller gets Lambda's error; the runtime says so in one line at most (when its
    writes fail), never with tracebacks or a late /error post refused with a 403."""
    function(tmp_path)
    (tmp_path / "middlewares" / "keep").mkdir(parents=True)
    keep = tmp_path / "middlewares" / "keep" / "keep"
    keep.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())\n")
    keep.chmod(0o755)
    pipeline = write_pipeline(tmp_path, "runtime: {name: python, handler: app.big, task_root: .}\n"
                                        "middlewares:\n  - {name: keep, hooks: [after], on_stream: buffer}\n")
    log = tmp_path / "function.log"
    with orchestrated(pipeline, env={"OPENRUNTIME_PYTHON": sys.executable}, stderr_file=log) as emulator:
        result = emulator.invoke(b"{}")
        again = emulator.invoke(b"{}")  # the runtime is still there
    assert json.loads(result.body)["errorType"] == "Function.ResponseSizeTooLarge"
    assert json.loads(again.body)["errorType"] == "Function.ResponseSizeTooLarge"
    text = log.read_text()
    assert "Traceback" not in text and "InvalidStateTransition" not in text, text[-3000:]
