"""`serve --watch`: a change to the function's code, the pipeline or a middleware makes the
next invocation start a fresh sandbox (cold, with the new code), without restarting
`serve`.

Polling, not inotify: it works the same everywhere, costs one stat per file every quarter
of a second, and a change is seen within a second. Folders that only tools write
(`__pycache__`, `.git`, `node_modules/.cache`, `.aws-sam`) are not watched, nor the files
`serve` itself writes to (its STDOUT and STDERR redirected into the project: every
invocation's log would otherwise make the next one cold).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable

SKIPPED = {"__pycache__", ".git", ".aws-sam", ".pytest_cache", ".mypy_cache", ".cache"}
MAX_FILES = 20_000  # a task root bigger than this is watched in part (said once)


def own_output_files() -> frozenset[tuple[int, int]]:
    """The regular files this process's STDOUT and STDERR write to (`serve 2> serve.log`),
    as (device, inode)."""
    import stat

    found = set()
    for fd in (1, 2):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.add((info.st_dev, info.st_ino))
    return frozenset(found)


def snapshot(paths: Iterable[str], ignored: frozenset[tuple[int, int]] = frozenset()) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file under `paths` (files or folders), but `ignored`."""
    seen: dict[str, tuple[int, int]] = {}
    for root in paths:
        if os.path.isfile(root):
            info = os.stat(root)
            seen[root] = (info.st_mtime_ns, info.st_size)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIPPED]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) in ignored:
                    continue
                seen[path] = (info.st_mtime_ns, info.st_size)
                if len(seen) >= MAX_FILES:
                    return seen
    return seen


class Watcher:
    """Calls `on_change(changed)` from a thread of its own when files under `paths` change,
    appear or go away: `changed` is every such path seen in one look, sorted. An exception
    from `on_change` is said and the watching goes on (a dead watcher would stop reloading
    without a word)."""

    def __init__(self, paths: Iterable[str], on_change: Callable[[list[str]], None], interval_s: float = 0.25) -> None:
        self.paths = [p for p in dict.fromkeys(os.path.abspath(p) for p in paths) if os.path.exists(p)]
        self.on_change = on_change
        self.interval_s = interval_s
        self.ignored = own_output_files()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        before = snapshot(self.paths, self.ignored)
        while not self._stop.wait(self.interval_s):
            now = snapshot(self.paths, self.ignored)
            if now != before:
                changed = [p for p in sorted(set(now) | set(before)) if now.get(p) != before.get(p)]
                before = now
                try:
                    self.on_change(changed)
                except Exception as exc:  # noqa: BLE001 - said; the next change is still seen
                    sys.stderr.write(f"openruntime: --watch: {changed[0]} changed, and taking it in failed: "
                                     f"{type(exc).__name__}: {exc}\n")
