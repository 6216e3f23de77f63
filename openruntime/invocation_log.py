"""One log line per invocation: request id, outcome and where the time went.

Text by default, one JSON object when Lambda's advanced logging asks for JSON
(`AWS_LAMBDA_LOG_FORMAT=JSON`), so that CloudWatch Logs Insights can query the stages.
"""

from __future__ import annotations

import json
import os
import sys

from openruntime.invocation import Invocation, Outcome

_JSON = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def outcome_label(outcome: Outcome) -> str:
    return f"error:{outcome.error_type or 'Unknown'}" if outcome.is_error else "success"


def write_invocation_log(invocation: Invocation, outcome: Outcome, total_s: float, timings: dict[str, float]) -> None:
    stages_ms = {name: round(seconds * 1000, 3) for name, seconds in timings.items()}
    own_ms = round(max(0.0, total_s - sum(timings.values())) * 1000, 3)
    if _JSON:
        line = json.dumps(
            {
                "type": "openruntime.invocation",
                "requestId": invocation.request_id,
                "outcome": outcome_label(outcome),
                "durationMs": round(total_s * 1000, 3),
                "stagesMs": stages_ms,
                "orchestratorMs": own_ms,
            },
            separators=(",", ":"),
        )
    else:
        stages = " ".join(f"{name}={ms:.2f}ms" for name, ms in stages_ms.items())
        line = (
            f"[openruntime] RequestId: {invocation.request_id} Outcome: {outcome_label(outcome)} "
            f"Duration: {total_s * 1000:.2f} ms Stages: {stages} orchestrator={own_ms:.2f}ms"
        )
    sys.stderr.write(line + "\n")
