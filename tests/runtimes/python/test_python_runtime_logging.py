"""Log output against awslambdaric's, in fresh interpreters (logging setup is process-wide).

Each side runs the same scenario module after its own logging setup; the outputs must
be identical once timestamps are masked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[3] / "runtimes" / "python"

SCENARIO = '''
import logging

log = logging.getLogger("app.module")
log.debug("debug %s", "hidden unless DEBUG")
log.info("info line")
log.warning("warn %s", 1)
logging.error({"structured": [1, 2]})
log.warning("with extra", extra={"order_id": 42})
log.log(35, "custom level")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it failed")
log.critical("caf\u00e9")
report_error({
    "errorMessage": "bad value",
    "errorType": "ValueError",
    "requestId": "req-1",
    "stackTrace": ['  File "/var/task/app.py", line 3, in handler\\n    raise ValueError("bad value")\\n'],
})
'''

OURS = f"""
import sys
sys.path.insert(0, {str(RUNTIME_DIR)!r})
from openruntime_python_runtime import lambda_logging as L
from openruntime_python_runtime.marshalling import JSONEncoder
is_json = L.log_format_is_json()
sink = L.create_log_sink(is_json)
L.setup_logging(sink, is_json, L.log_level_from_env())
L.set_request("req-1", tenant)
report_error = L.make_error_logger(sink, is_json, JSONEncoder().encode)
"""

THEIRS = """
from awslambdaric import bootstrap as B
sink = B.create_log_sink().__enter__()
B._setup_logging(B._AWS_LAMBDA_LOG_FORMAT, B._AWS_LAMBDA_LOG_LEVEL, sink)
B._GLOBAL_AWS_REQUEST_ID = "req-1"
B._GLOBAL_TENANT_ID = tenant
report_error = lambda error: B.log_error(error, sink)
"""

RUN_SCENARIO = """
import builtins
builtins.report_error = report_error
import logging_scenario
"""

TEXT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
JSON_TIME = re.compile(r'"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')


def run(setup: str, scenario_dir: Path, env: dict[str, str], tenant: str | None, pass_fds: tuple[int, ...] = ()) -> str:
    code = f"tenant = {tenant!r}\n" + setup + RUN_SCENARIO
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_LOG", "_LAMBDA_TELEMETRY"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(scenario_dir)
    done = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, timeout=30, pass_fds=pass_fds
    )
    assert done.returncode == 0, done.stderr.decode()
    # Bytes, not text mode: universal newlines would turn the \r separators into \n.
    return done.stdout.decode("utf-8")


def mask(text: str) -> str:
    return JSON_TIME.sub('"timestamp": "T"', TEXT_TIME.sub("T", text))


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    (tmp_path / "logging_scenario.py").write_text(SCENARIO)
    return tmp_path


@pytest.mark.parametrize(
    ("env", "tenant"),
    [
        ({}, None),
        ({}, "tenant-7"),
        ({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, None),
        ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, None),
        ({"AWS_LAMBDA_LOG_LEVEL": "error"}, None),
        ({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, "tenant-7"),
        ({"AWS_LAMBDA_LOG_FORMAT": "json", "AWS_LAMBDA_LOG_LEVEL": "INFO"}, None),
    ],
    ids=lambda v: (",".join(f"{k}={x}" for k, x in v.items()) or "default") if isinstance(v, dict) else str(v),
)
def test_log_output_matches_awslambdaric(scenario_dir: Path, env: dict[str, str], tenant: str | None) -> None:
    ours = run(OURS, scenario_dir, env, tenant)
    theirs = run(THEIRS, scenario_dir, env, tenant)
    assert mask(ours) == mask(theirs)


def test_text_format(scenario_dir: Path) -> None:
    out = run(OURS, scenario_dir, {}, None)
    lines = out.split("\n")
    # Root logger at WARNING by default: debug and info are dropped, as on Lambda.
    assert lines[0] == "[WARNING]\t" + lines[0].split("\t")[1] + "\treq-1\twarn 1"
    assert TEXT_TIME.fullmatch(lines[0].split("\t")[1])
    assert "info line" not in out
    # An error report is one line: CR between its lines, no-break spaces for indentation.
    report = next(line for line in lines if line.startswith("[ERROR] ValueError"))
    assert report == (
        "[ERROR] ValueError: bad value\rTraceback (most recent call last):\r"
        '\u00a0\u00a0File "/var/task/app.py", line 3, in handler\r'
        '\u00a0\u00a0\u00a0\u00a0raise ValueError("bad value")'
    )


def test_json_format(scenario_dir: Path) -> None:
    out = run(OURS, scenario_dir, {"AWS_LAMBDA_LOG_FORMAT": "JSON"}, "tenant-7")
    records = [json.loads(line) for line in out.splitlines()]
    warn = records[0]
    assert warn["level"] == "WARNING"
    assert warn["message"] == "warn 1"
    assert warn["logger"] == "app.module"
    assert warn["requestId"] == "req-1"
    assert warn["tenantId"] == "tenant-7"
    assert records[1]["message"] == {"structured": [1, 2]}
    assert records[2]["order_id"] == 42
    failed = next(r for r in records if r.get("message") == "it failed")
    assert failed["errorType"] == "ZeroDivisionError"
    assert failed["stackTrace"]
    report = records[-1]
    assert report["level"] == "ERROR"
    assert report["errorType"] == "ValueError"
    assert report["requestId"] == "req-1"


def read_frames(fd: int) -> list[tuple[bytes, str]]:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    frames = []
    while data:
        frame_type, length = data[:4], int.from_bytes(data[4:8], "big")
        timestamp_us = int.from_bytes(data[8:16], "big")
        assert timestamp_us > 1_600_000_000_000_000
        frames.append((frame_type, mask(data[16 : 16 + length].decode("utf-8"))))
        data = data[16 + length :]
    return frames


@pytest.mark.parametrize("env", [{}, {"AWS_LAMBDA_LOG_LEVEL": "INFO"}, {"AWS_LAMBDA_LOG_FORMAT": "JSON"}])
def test_telemetry_fd_frames_match_awslambdaric(scenario_dir: Path, env: dict[str, str]) -> None:
    results = []
    for setup in (OURS, THEIRS):
        read_fd, write_fd = os.pipe()
        try:
            stdout = run(setup, scenario_dir, {**env, "_LAMBDA_TELEMETRY_LOG_FD": str(write_fd)}, None, (write_fd,))
        finally:
            os.close(write_fd)
        assert stdout == ""  # everything went to the fd
        results.append(read_frames(read_fd))
        os.close(read_fd)
    ours, theirs = results
    assert ours == theirs
    assert ours[-1][0] in (bytes.fromhex("a55a0017"), bytes.fromhex("a55a0016"))  # the error report
