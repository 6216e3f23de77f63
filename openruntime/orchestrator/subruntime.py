"""Start, watch and restart the language runtime behind the proxy.

The sub-runtime is any Runtime API client. It runs in its own process group (a kill
takes its children too), with `AWS_LAMBDA_RUNTIME_API` pointing at the proxy and the
task root as working directory, as AWS starts runtimes. Its STDERR is copied to ours
line by line (it is the function's log) while the last few KB are kept, so that a crash
can be reported with what the runtime said last.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from openruntime.processes import PIPE, kill_tree, spawn

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from openruntime.processes import Process

TAIL_BYTES = 4096
# (the runtime, its exit status, the generation it was started for): an exit is always the
# exit of the process that was started for that generation, never of the one after it.
ExitCallback = Callable[["SubRuntime", int, "int | None"], None]


class SubRuntime:
    """The language runtime's process: `start` (or adopt one started early), `stop` with a
    grace period, `kill` outright; `on_exit(self, status)` is called, from a watcher
    thread, when it dies on its own (never after `stop` or `kill`), with the `generation`
    it was started for."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], cwd: str | None, on_exit: ExitCallback
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self._on_exit = on_exit
        self._process: Process | None = None
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._stopping = False
        # `_process` and `_stopping` change together: a watcher must not see the new
        # process's `_stopping` beside the old process (its exit would be the new one's).
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, started: Process | None = None, generation: int | None = None) -> None:
        """Start the runtime, or adopt `started` (spawned early, with STDERR on a pipe, or
        started by /opt/bootstrap, with none: then its last words are only in the log).
        `generation` is handed back with its exit."""
        self._tail.clear()
        self._tail_size = 0
        process = started or spawn(self.command, self.env, cwd=self.cwd, stderr=PIPE, die_with_parent=True)
        with self._lock:
            self._process, self._stopping = process, False
        copier = threading.Thread(target=self._copy_stderr, args=(process,), name="runtime-stderr", daemon=True)
        copier.start()
        threading.Thread(
            target=self._watch, args=(process, copier, generation), name="runtime-watch", daemon=True
        ).start()

    def _copy_stderr(self, process: Process) -> None:
        if process.stderr is None:
            return  # started by /opt/bootstrap: it writes to the sandbox's STDERR itself
        fd = process.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            try:
                os.write(2, chunk)
            except OSError:
                pass
            self._tail.append(chunk)
            self._tail_size += len(chunk)
            while self._tail_size - len(self._tail[0]) >= TAIL_BYTES and len(self._tail) > 1:
                self._tail_size -= len(self._tail.popleft())
        process.stderr.close()

    def _watch(self, process: Process, copier: threading.Thread, generation: int | None) -> None:
        status = process.wait()
        copier.join(0.5)  # its last words, unless a grandchild still holds the pipe
        with self._lock:
            on_its_own = self._process is process and not self._stopping
        if on_its_own:
            self._on_exit(self, status, generation)

    def stderr_tail(self, limit: int = 1024) -> str:
        data = b"".join(self._tail)[-limit:]
        return data.decode("utf-8", "replace").strip()

    def kill(self) -> None:
        """SIGKILL it and all it started, in any session (a wedged runtime gets no say): the
        restarted runtime gets a clean sandbox, as after Lambda's reset. No exit callback."""
        with self._lock:
            process, self._stopping = self._process, True
        if process is not None:
            kill_tree(process)
            process.wait()

    def stop(self, grace_s: float = 0.3) -> None:
        with self._lock:
            process, self._stopping = self._process, True
        if process is not None:
            kill_tree(process, grace_s)
