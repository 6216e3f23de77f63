"""Configuration: every option read from `env:`, and a bad value stopping the middleware
at start with one line naming the variable, in both modes."""

from __future__ import annotations

import os
import subprocess

import pytest
from aws_batch.config import BatchConfig, ConfigError, load_config
from batch_support import EXECUTABLE


def test_defaults_and_every_option() -> None:
    assert load_config({}) == BatchConfig("none", "fail", "error", "batch", True)
    env = {"BATCH_DECODE": "JSON", "BATCH_UNREPORTED": "succeed", "BATCH_ALL_FAILED": "report",
           "BATCH_FIFO_SCOPE": "group", "BATCH_LOG_FAILURES": "false"}
    assert load_config(env) == BatchConfig("json", "succeed", "report", "group", False)


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^BATCH_FIFO_SCOPE='queue' is not one of batch, group$"):
        load_config({"BATCH_FIFO_SCOPE": "queue"})


@pytest.mark.parametrize("argv", [["before"], ["--persistent"]])
def test_a_bad_value_stops_the_executable_before_it_serves(argv: list[str]) -> None:
    done = subprocess.run([str(EXECUTABLE), *argv], input=b"{}", capture_output=True, timeout=10,
                          env={**os.environ, "BATCH_DECODE": "xml", "OPENRUNTIME_PROTOCOL": "2"})
    assert done.returncode == 1
    assert done.stdout == b""  # no ready frame, no payload
    assert done.stderr.decode().splitlines()[-1] == "Batch.ConfigError: BATCH_DECODE='xml' is not one of none, text, json"
