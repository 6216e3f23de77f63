"""Bad configuration stops the middleware at start with one line naming the variable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from aws_idempotency.config import ConfigError, load
from idempotency_support import EXECUTABLE, FAKE_CREDENTIALS, clean_env

TABLE = {"IDEMPOTENCY_TABLE": "idempotency", **FAKE_CREDENTIALS}


@pytest.mark.parametrize(("env", "message"), [
    ({}, "IDEMPOTENCY_TABLE or IDEMPOTENCY_FILE_DIR: set exactly one (neither is set)"),
    ({**TABLE, "IDEMPOTENCY_FILE_DIR": "/tmp/x"}, "IDEMPOTENCY_TABLE or IDEMPOTENCY_FILE_DIR: set exactly one (both are set)"),
    ({**TABLE, "AWS_ACCESS_KEY_ID": ""}, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set; IDEMPOTENCY_TABLE needs the "
     "function's credentials (set `aws_credentials: true` on the pipeline entry)"),
    ({**TABLE, "AWS_REGION": ""}, "AWS_REGION: not set (IDEMPOTENCY_TABLE needs the table's region)"),
    ({**TABLE, "AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"}, "AWS_ENDPOINT_URL_DYNAMODB: 'localhost:8000' is not an http(s) URL"),
    ({**TABLE, "IDEMPOTENCY_EXPIRES_AFTER_SECONDS": "1h"},
     "IDEMPOTENCY_EXPIRES_AFTER_SECONDS: expected a whole number from 1 to 315360000, got '1h'"),
    ({**TABLE, "IDEMPOTENCY_RAISE_ON_NO_KEY": "maybe"}, "IDEMPOTENCY_RAISE_ON_NO_KEY: expected true or false, got 'maybe'"),
    ({**TABLE, "IDEMPOTENCY_MAX_RESPONSE_BYTES": "500000"},
     "IDEMPOTENCY_MAX_RESPONSE_BYTES: expected a whole number from 0 to 350000, got '500000'"),
    ({**TABLE, "IDEMPOTENCY_PAYLOAD_VALIDATION_JMESPATH": "body | length(@)"},
     "IDEMPOTENCY_PAYLOAD_VALIDATION_JMESPATH: unexpected '|' at character 6 of 'body | length(@)' "
     "(not in the supported subset of JMESPath)"),
])
def test_bad_configuration_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env)
    assert str(caught.value) == message


def test_the_file_store_folder_must_be_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^IDEMPOTENCY_FILE_DIR: cannot create '.*a-file/records': "):
        load({"IDEMPOTENCY_FILE_DIR": str(blocker / "records")})


def test_a_relative_folder_is_under_the_task_root(tmp_path: Path) -> None:
    load({"IDEMPOTENCY_FILE_DIR": "records", "LAMBDA_TASK_ROOT": str(tmp_path)})
    assert (tmp_path / "records").is_dir()


@pytest.mark.parametrize("args", [["before"], ["--persistent"]])
def test_the_executable_stops_at_start_with_one_line(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run([str(EXECUTABLE), *args], input=b"{}", capture_output=True, timeout=20,
                          env=clean_env({"IDEMPOTENCY_EVENT_KEY_JMESPATH": "a[*]", "IDEMPOTENCY_FILE_DIR": str(tmp_path)}))
    assert done.returncode == 1 and done.stdout == b""  # no ready frame, no payload
    assert done.stderr.decode() == ("Idempotency.ConfigError: IDEMPOTENCY_EVENT_KEY_JMESPATH: unexpected '*' at "
                                    "character 3 of 'a[*]' (not in the supported subset of JMESPath)\n")
