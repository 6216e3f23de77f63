"""One log line per invocation: request id, outcome and where the time went.

Text by default, one JSON object when Lambda's advanced logging asks for JSON
(`AWS_LAMBDA_LOG_FORMAT=JSON`), so that CloudWatch Logs Insights can query the stages.
"""

from __future__ import annotations

from openruntime.function_log import SETTINGS, LogSettings, dumps, timestamp, write
from openruntime.invocation import Invocation, Outcome


def outcome_label(outcome: Outcome) -> str:
    if outcome.stream is not None:
        return "streaming"  # logged as the stream starts: how it ends is the stream's
    return f"error:{outcome.error_type or 'Unknown'}" if outcome.is_error else "success"


def invocation_line(
    invocation: Invocation, outcome: Outcome, total_s: float, timings: dict[str, float], settings: LogSettings = SETTINGS
) -> str | None:
    """The invocation's line; None when AWS_LAMBDA_LOG_LEVEL filters it out."""
    stages_ms = {name: round(seconds * 1000, 3) for name, seconds in timings.items()}
    own_ms = round(max(0.0, total_s - sum(timings.values())) * 1000, 3)
    if settings.json:
        level = "ERROR" if outcome.is_error else "INFO"
        if not settings.enabled(level):
            return None
        return dumps(
            {
                "timestamp": timestamp(),
                "level": level,
                "type": "openruntime.invocation",
                "requestId": invocation.request_id,
                "outcome": outcome_label(outcome),
                "durationMs": round(total_s * 1000, 3),
                "stagesMs": stages_ms,
                "orchestratorMs": own_ms,
            }
        )
    stages = " ".join(f"{name}={ms:.2f}ms" for name, ms in stages_ms.items())
    return (
        f"[openruntime] RequestId: {invocation.request_id} Outcome: {outcome_label(outcome)} "
        f"Duration: {total_s * 1000:.2f} ms Stages: {stages} orchestrator={own_ms:.2f}ms"
    )


def write_invocation_log(invocation: Invocation, outcome: Outcome, total_s: float, timings: dict[str, float]) -> None:
    write(invocation_line(invocation, outcome, total_s, timings))
