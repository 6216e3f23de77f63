"""A persistent middleware as several processes, for Managed Instances mode.

With N invocations in flight at once, one process of a persistent middleware would make
them take turns. A pool runs N of them (started together at init, each its own process
with its own ready frame) and gives each call a free one. Nothing about an invocation
lives in the process: its state travels in the frames (`InvocationScope`), so its
`before` and `after` may be served by different processes, and old middlewares work
unchanged (protocol v2, no request ids needed).
"""

from __future__ import annotations

import threading
import time

from openruntime import errors

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from openruntime.invocation import Invocation
    from openruntime.middleware.persistent import PersistentMiddleware
    from openruntime.middleware.protocol import HookResult, InvocationScope


class MiddlewarePool:
    """N processes of one persistent middleware behind the runner interface."""

    def __init__(self, members: list[PersistentMiddleware]) -> None:
        self.members = members
        self.config = members[0].config
        self.command = members[0].command
        self._free = list(members)
        self._cond = threading.Condition()

    def start(self) -> None:
        for member in self.members:
            member.start()

    def await_ready(self) -> None:
        for member in self.members:
            member.await_ready()

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def handles(self, hook: str) -> bool:
        return self.members[0].handles(hook)

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        end = time.monotonic() + timeout_s
        with self._cond:
            while not self._free:
                remaining = end - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining) and not self._free:
                    raise self.members[0]._failure(
                        errors.MIDDLEWARE_TIMEOUT,
                        f"had no free process within {timeout_s * 1000:.0f} ms ({len(self.members)} busy)", hook)
            member = self._free.pop()
        try:
            return member.call(hook, payload, content_type, invocation, scope, max(end - time.monotonic(), 0.001))
        finally:
            with self._cond:
                self._free.append(member)
                self._cond.notify()
