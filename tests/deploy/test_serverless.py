"""deploy/serverless/serverless.yml against the Serverless Framework's own schema, offline.

The framework checks a configuration against its JSON schema (core, AWS provider, plugins)
when it loads it; `configValidationMode: error` turns what it finds into a failure, and
`print` needs no AWS account. Serverless v4 needs a login for every command and v3's last
schema (3.40) predates python3.12, so this runs `osls`, the maintained open-source fork of
v3 (`npm install -g osls`), whose schema knows today's runtimes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

OSLS = os.environ.get("OPENRUNTIME_OSLS") or shutil.which("osls")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(OSLS is None, reason="osls (the Serverless Framework v3 fork) is not installed "
                       "(npm install -g osls, or OPENRUNTIME_OSLS=/path/to/osls)"),
]


def print_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """`osls print` on a copy of the example with strict validation, in a throwaway HOME."""
    folder = tmp_path / "deploy" / "serverless"
    folder.mkdir(parents=True)
    (folder / "serverless.yml").write_text(text + "\nconfigValidationMode: error\n")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "SLS_TELEMETRY_DISABLED": "1",
           "SLS_NOTIFICATIONS_MODE": "off", "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1"}
    assert OSLS is not None
    return subprocess.run([OSLS, "print"], capture_output=True, text=True, cwd=folder, env=env, timeout=180)


def test_the_serverless_example_passes_the_frameworks_schema(tmp_path: Path) -> None:
    done = print_config(tmp_path, (REPO / "deploy" / "serverless" / "serverless.yml").read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runtime: python3.12" in done.stdout  # the resolved configuration
    assert "Invalid configuration" not in done.stdout + done.stderr


def test_the_schema_check_does_refuse_a_wrong_configuration(tmp_path: Path) -> None:
    text = (REPO / "deploy" / "serverless" / "serverless.yml").read_text()
    done = print_config(tmp_path, text.replace("runtime: python3.12", "runtime: python2.5", 1))
    assert done.returncode != 0
    assert "provider.runtime" in done.stdout + done.stderr
