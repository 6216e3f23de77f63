"""Where a batch plan waits between `before` and `after`.

The invocation state is the natural place, and it travels with the invocation in both
modes (and to whichever process of a persistent pool serves `after`). But persistent mode
caps it at 32 KiB, and a batch can hold 10,000 records. So a plan that does not fit goes
to a file in a private folder under the temporary directory (shared by every process of
the sandbox) and the state names the file. `after` and `error` delete it; files left by
invocations that never reached either (a timeout) are swept when SWEEP_AFTER_S old, well
past Lambda's 15-minute maximum duration."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .plan import BatchPlan

INLINE_BYTES = 24 * 1024  # under the 32 KiB state cap, with room for the wrapper
SWEEP_AFTER_S = 3600
_PREFIX = "plan-"


class PlanLostError(RuntimeError):
    """The state names a plan file that is not there any more."""


def spill_folder() -> str:
    import tempfile  # lazily: ~7 ms to import, and only large batches need it

    return os.path.join(tempfile.gettempdir(), f"openruntime-batch-{os.getuid()}")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def save(plan: BatchPlan) -> dict[str, Any]:
    """The state to keep for `plan`: the plan itself, or the name of the file holding it."""
    doc = plan.to_json()
    text = _dumps(doc)
    if len(text) <= INLINE_BYTES:  # ASCII: json.dumps escapes the rest
        return {"plan": doc}
    folder = spill_folder()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    _sweep(folder)
    import tempfile

    fd, path = tempfile.mkstemp(dir=folder, prefix=_PREFIX, suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return {"planFile": os.path.basename(path)}


def _spill_path(name: Any) -> str:
    if not isinstance(name, str) or os.path.basename(name) != name or not name.startswith(_PREFIX):
        raise ValueError("not a plan file name")
    return os.path.join(spill_folder(), name)


def load(state: Any) -> BatchPlan | None:
    """The plan `save` kept, None when the state holds none (not a batch invocation)."""
    if not isinstance(state, dict):
        return None
    if "plan" in state:
        return BatchPlan.from_json(state["plan"])
    if "planFile" not in state:
        return None
    path = _spill_path(state["planFile"])
    try:
        with open(path) as f:
            return BatchPlan.from_json(json.load(f))
    except FileNotFoundError:
        raise PlanLostError(f"the batch plan file {path} is gone") from None


def discard(state: Any) -> None:
    """Delete the plan file the state names, if any."""
    if isinstance(state, dict) and "planFile" in state:
        try:
            os.unlink(_spill_path(state["planFile"]))
        except (FileNotFoundError, ValueError):
            pass


def _sweep(folder: str) -> None:
    cutoff = time.time() - SWEEP_AFTER_S
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.name.startswith(_PREFIX) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass
