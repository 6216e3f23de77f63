"""The `stages` a hook call's context carries (docs/middleware-protocol.md, Context): each
`[middleware or null, hook or "handler" or "post", start Unix µs, duration µs]`. Read
defensively: an entry of another shape is skipped, never an error."""

from __future__ import annotations

from typing import Any


def first_start_us(stages: list[Any] | None) -> int | None:
    """When the invocation's first timed stage began (a hook, or the handler)."""
    starts = [stage[2] for stage in stages or () if isinstance(stage, list) and len(stage) == 4
              and type(stage[2]) is int]
    return min(starts) if starts else None


def posted_us(stages: list[Any] | None) -> int | None:
    """When the orchestrator's post of the answer ended: what the caller waited for. Only
    observers' hooks (`received`, `done`) see the `post` stage; None in the others."""
    for stage in stages or ():
        if (isinstance(stage, list) and len(stage) == 4 and stage[0] is None and stage[1] == "post"
                and type(stage[2]) is int and type(stage[3]) is int):
            return int(stage[2] + stage[3])
    return None
