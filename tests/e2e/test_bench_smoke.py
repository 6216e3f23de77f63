"""`openruntime bench --quick` runs end to end and prints its table.

A smoke test only: it asserts that every section and every budget line is there, never a
figure (timed assertions would fail on a busy machine). About 20 s on 2 idle cores;
deselect with `-m "not slow"`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import harness
from tests.conftest import REPO

SECTIONS = (
    "Warm invocation latency",
    "Per hop",
    "Cold start",
    "Resident memory",
    "JSON event, echoed",
    "One loopback POST",
    "Budgets (DESIGN.md)",
)
BUDGETS = (  # DESIGN.md's, each with a verdict
    "orchestrator p50 vs runtime, call by call",
    "persistent middleware hop p50",
    "cold start, layer bootstrap + runtime vs runtime",
    "cold start, added by the layer bootstrap, p50",
    "orchestrator RSS after",
)


@pytest.mark.slow
def test_bench_quick_prints_the_table_and_keeps_what_it_measured_when_a_phase_fails(tmp_path: Path) -> None:
    report = tmp_path / "bench.html"
    run = subprocess.run(
        [sys.executable, "-m", "openruntime", "bench", "--quick", "--json", "--html", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout)
    assert results["failures"] == {}
    page = report.read_text()  # the same figures as charts
    assert page.count("<svg") >= 3 and "Warm invocation latency, p50" in page and "orchestrator overhead" in page
    table = harness.render(results)
    for section in SECTIONS:
        assert section in table, f"missing section {section!r}:\n{table}"
    budget_lines = [line for line in table.splitlines() if line.strip().startswith(("PASS", "MISS"))]
    for budget in BUDGETS:
        assert any(budget in line for line in budget_lines), f"no PASS/MISS line for {budget!r}:\n{table}"
    # A phase whose invocation failed: the others' figures and budgets are still printed.
    del results["cold"]
    results["failures"] = {"cold": "direct: invocation failed (200): b'...'"}
    results["budgets"] = harness.budgets(results)
    table = harness.render(results)
    assert "cold: FAILED, not measured: direct: invocation failed" in table
    assert "Warm invocation latency" in table and "Resident memory" in table
    assert not any("cold start" in b["budget"] for b in results["budgets"])
    assert any("call by call" in b["budget"] for b in results["budgets"])
