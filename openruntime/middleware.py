"""Exec-mode middlewares (protocol v1): one process per hook call, payload over STDIN/STDOUT.

See docs/middleware-protocol.md. Exit status 0 continues with STDOUT as the new payload,
3 answers with STDOUT as the response, anything else fails the invocation with an error
that names the middleware, the hook, the status and the tail of STDERR.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Mapping

from openruntime.config import CREDENTIAL_ENV, MiddlewareConfig
from openruntime.invocation import Invocation, is_json_type
from openruntime import lambda_errors as errors
from openruntime.lambda_errors import error_body
from openruntime.processes import kill_group
from openruntime.stderr_lines import TAIL_BYTES, StderrLines

# json and subprocess are imported where used: a pipeline that has no exec middleware
# never needs subprocess, and neither is worth ~15 ms (re, enum, locale) of a cold start.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    import subprocess
    from typing import Any, Protocol
else:
    Protocol = object  # the class below is an interface for mypy; at run time, a plain base

EXIT_RESPOND = 3
EXIT_FAIL_WITH_ERROR = 4  # STDOUT is the middleware's own error object
# What a middleware may write to STDOUT: Lambda's payload limit (a request, or a buffered
# response, of 6 MB); the rest is never read. Streamed responses have their own limits.
MAX_OUTPUT_BYTES = errors.MAX_RESPONSE_BYTES
_READ_CHUNK = 1 << 16  # a pipe's capacity

# Always passed through an env allow-list: without them nothing runs at all.
ESSENTIAL_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH")
# The function's variables a middleware must never see or use.
HIDDEN_ENV = ("AWS_LAMBDA_RUNTIME_API",)


class MiddlewareFailure(Exception):
    """A middleware hook failed; becomes a Lambda-shaped error naming the middleware."""

    def __init__(self, error_type: str, message: str, name: str, hook: str, **details: Any) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.details: dict[str, Any] = {"name": name, "hook": hook, **details}
        # Keys of a middleware's own error object (exit 4, `fail` frames) kept as given.
        self.extra: dict[str, Any] = {}

    def body(self, request_id: str) -> bytes:
        return error_body(self.error_type, self.message, request_id, **self.extra, middleware=self.details)

    @classmethod
    def from_error_object(cls, payload: bytes, name: str, hook: str) -> "MiddlewareFailure":
        """A failure the middleware described itself: its error object, as it is."""
        import json

        try:
            error = json.loads(payload) if payload.strip() else {}
        except ValueError:
            error = {"errorMessage": payload[:500].decode("utf-8", "replace").rstrip()}
        if not isinstance(error, dict):
            error = {"errorMessage": json.dumps(error)[:500]}
        error_type = error.get("errorType")
        message = error.get("errorMessage")
        failure = cls(
            error_type if isinstance(error_type, str) and error_type else "Middleware.Failed",
            message if isinstance(message, str) and message else f"middleware '{name}' hook '{hook}' failed",
            name, hook,
        )
        failure.extra = {k: v for k, v in error.items()
                         if k not in ("errorType", "errorMessage", "requestId", "middleware")}
        return failure


class HookResult:
    __slots__ = ("payload", "content_type", "respond")

    def __init__(self, payload: bytes, content_type: str, respond: bool = False) -> None:
        self.payload = payload
        self.content_type = content_type
        self.respond = respond  # short-circuit (before) or recover (error)


STATE_ROOT_PREFIX = "openruntime-state-"
_state_root: str | None = None


def state_root() -> str:
    """This orchestrator's folder for invocation state: `$TMPDIR/openruntime-state-<pid>`.

    An orchestrator killed outright (SIGKILL, a sandbox reset) cannot remove its
    invocations' state folders; the next one removes the folders of processes that are
    gone, the first time it needs its own. A folder of that name that is not ours (another
    user's, a link) is not used: then a private temporary folder is."""
    global _state_root
    if _state_root is None:
        import tempfile

        base = tempfile.gettempdir()
        _sweep_state_roots(base)
        root = os.path.join(base, f"{STATE_ROOT_PREFIX}{os.getpid()}")
        try:
            os.mkdir(root, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(root)
        if not (os.path.isdir(root) and not os.path.islink(root) and info.st_uid == os.getuid()
                and info.st_mode & 0o077 == 0):
            root = tempfile.mkdtemp(prefix=STATE_ROOT_PREFIX)
        _state_root = root
    return _state_root


def remove_state_root() -> None:
    """At a clean shutdown: this orchestrator's state folder goes (its invocations' are gone)."""
    global _state_root
    if _state_root is not None:
        import shutil

        shutil.rmtree(_state_root, ignore_errors=True)
        _state_root = None


def _sweep_state_roots(base: str) -> None:
    import shutil

    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        pid_text = name[len(STATE_ROOT_PREFIX):]
        if not name.startswith(STATE_ROOT_PREFIX) or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:  # its orchestrator is gone: what it left behind goes too
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        except (PermissionError, OverflowError):
            pass  # alive, another user's; or not a pid


class InvocationScope:
    """Per-invocation state of every middleware (exec: files; persistent: JSON values)."""

    __slots__ = ("_dir", "values", "_files")

    def __init__(self) -> None:
        self._dir: str | None = None
        self.values: dict[str, Any] = {}
        self._files: dict[str, str] = {}

    def state_file(self, name: str) -> str:
        """The middleware's state file; it exists (empty) from its first hook call on."""
        path = self._files.get(name)
        if path is None:
            if self._dir is None:
                import tempfile  # only exec middlewares need files: not on the cold path

                self._dir = tempfile.mkdtemp(prefix="invocation-", dir=state_root())
            path = os.path.join(self._dir, f"{name}.state")
            # Created here so that `cat "$OPENRUNTIME_STATE_FILE"` works in `before` too.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self._files[name] = path
        return path

    def close(self) -> None:
        if self._dir is not None:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._files.clear()


class Middleware(Protocol):
    config: MiddlewareConfig

    def start(self) -> None: ...

    def await_ready(self) -> None: ...

    def stop(self) -> None: ...

    def handles(self, hook: str) -> bool: ...

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult: ...


def middleware_env(config: MiddlewareConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The function's environment as this middleware may see it, plus its own `env`:
    never the Runtime API, and the AWS credentials only when its entry grants them."""
    hidden = HIDDEN_ENV if config.aws_credentials else CREDENTIAL_ENV | set(HIDDEN_ENV)
    visible = {k: v for k, v in environ.items() if k not in hidden}
    if config.env_allow is not None:
        allowed = set(config.env_allow) | set(ESSENTIAL_ENV)
        visible = {k: v for k, v in visible.items() if k in allowed}
    visible.update(config.env)
    visible["OPENRUNTIME_MIDDLEWARE"] = config.name
    return visible


def context_env(hook: str, invocation: Invocation, content_type: str) -> dict[str, str]:
    env = {
        "OPENRUNTIME_HOOK": hook,
        "OPENRUNTIME_REQUEST_ID": invocation.request_id,
        "OPENRUNTIME_DEADLINE_MS": str(invocation.deadline_ms),
        "OPENRUNTIME_FUNCTION_ARN": invocation.function_arn,
        "OPENRUNTIME_CONTENT_TYPE": content_type,
    }
    if invocation.trace_id:
        env["_X_AMZN_TRACE_ID"] = invocation.trace_id
    return env


def credentials_hint(config: MiddlewareConfig, failure: MiddlewareFailure) -> str | None:
    """A hint for a middleware that failed, it seems, for want of the AWS credentials it
    was not granted; None when that is not the story."""
    if config.aws_credentials:
        return None
    said = f"{failure.message} {failure.details.get('stderrTail', '')} {failure.extra}".lower()
    if not any(sign in said for sign in _NO_CREDENTIALS_SIGNS):
        return None
    return (f"middleware '{config.name}' failed and mentions credentials: it does not get the function's "
            "AWS credentials unless its pipeline entry says `aws_credentials: true`")


_NO_CREDENTIALS_SIGNS = ("credential", "security token", "unrecognizedclient", "invalidclienttokenid",
                         "missingauthenticationtoken", "signature")


def check_output(
    payload: bytes, content_type: str, name: str, hook: str
) -> None:
    """Where the payload is JSON, a middleware must have written JSON."""
    if not is_json_type(content_type):
        return
    import json

    try:
        json.loads(payload)
    except ValueError as exc:
        preview = payload[:200].decode("utf-8", "replace")
        raise MiddlewareFailure(
            "Middleware.InvalidOutput",
            f"middleware '{name}' hook '{hook}' printed invalid JSON ({exc}): {preview!r}",
            name, hook,
        ) from None


class ExecMiddleware:
    """`EXECUTABLE <hook>` once per call, in its own process group."""

    def __init__(self, config: MiddlewareConfig, command: list[str], environ: Mapping[str, str]) -> None:
        self.config = config
        self.command = command
        self.base_env = middleware_env(config, environ)

    def start(self) -> None:
        pass  # nothing runs between calls

    def await_ready(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def handles(self, hook: str) -> bool:
        return hook in self.config.hooks

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        name = self.config.name
        env = dict(self.base_env)
        env.update(context_env(hook, invocation, content_type))
        env["OPENRUNTIME_STATE_FILE"] = scope.state_file(name)
        import subprocess

        try:
            process = subprocess.Popen(
                [*self.command, hook],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, start_new_session=True,
            )
        except OSError as exc:
            raise MiddlewareFailure(
                "Middleware.ExitError", f"middleware '{name}' hook '{hook}' could not start: {exc}",
                name, hook,
            ) from None
        stderr = StderrLines(name, invocation.request_id)
        try:
            stdout, outcome = _exchange(process, payload, max(timeout_s, 0.001), stderr, MAX_OUTPUT_BYTES)
            if outcome != EXITED:
                kill_group(process)
                process.wait()
                if process.stderr is not None and not process.stderr.closed:
                    stderr.feed(_drain_fd(process.stderr.fileno(), TAIL_BYTES))  # why it hung
                stderr.finish()
                if outcome == TOO_LARGE:
                    raise MiddlewareFailure(
                        "Middleware.OutputTooLarge",
                        f"middleware '{name}' hook '{hook}' wrote more than {MAX_OUTPUT_BYTES} bytes to "
                        "STDOUT (Lambda's payload limit); it was stopped there",
                        name, hook, limitBytes=MAX_OUTPUT_BYTES, stderrTail=stderr.tail(),
                    )
                raise MiddlewareFailure(
                    "Middleware.Timeout",
                    f"middleware '{name}' hook '{hook}' did not finish within {timeout_s * 1000:.0f} ms",
                    name, hook, stderrTail=stderr.tail(),
                )
        finally:
            kill_group(process)  # children it left behind must not outlive the call
            _close_pipes(process)
        stderr.finish()
        status = process.wait()
        if status == EXIT_FAIL_WITH_ERROR:
            raise MiddlewareFailure.from_error_object(stdout, name, hook)
        if status not in (0, EXIT_RESPOND):
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            stderr_tail = stderr.tail()
            message = f"middleware '{name}' hook '{hook}' {how}"
            raise MiddlewareFailure(
                "Middleware.ExitError", f"{message}: {stderr_tail}" if stderr_tail else message,
                name, hook, exitStatus=status, stderrTail=stderr_tail,
            )
        if stdout.endswith(b"\n") and not payload.endswith(b"\n") and _is_textual(content_type):
            stdout = stdout[:-1]
        return HookResult(stdout, content_type, respond=status == EXIT_RESPOND and hook != "after")


def _is_textual(content_type: str | None) -> bool:
    """Where a trailing newline that the input did not have is forgiven (echo adds one):
    JSON and text. Any other type is bytes, passed on exactly."""
    if not content_type:
        return True
    return is_json_type(content_type) or content_type.strip().lower().startswith("text/")


EXITED, TIMED_OUT, TOO_LARGE = "exited", "timed out", "too large"


def _exchange(
    process: subprocess.Popen[bytes], payload: bytes, timeout_s: float, stderr: StderrLines, max_stdout: int
) -> tuple[bytes, str]:
    """Feed STDIN, collect STDOUT and log STDERR as they come until the process exits:
    (stdout, EXITED), or what it wrote so far and TIMED_OUT, or TOO_LARGE as soon as STDOUT
    passes `max_stdout` bytes. Memory stays bounded whatever it writes.

    Unlike `communicate()`, this stops when the process itself exits (its pidfd turns
    readable), not when its pipes reach EOF: a background child that inherited STDOUT must
    not hold the call until the timeout (the protocol reads "until the process exits"; the
    caller then kills the group). Without pidfds (Linux < 5.3), EOF on both pipes it is.
    """
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        pidfd = -1
    deadline = time.monotonic() + timeout_s
    in_fd, out_fd, err_fd = process.stdin.fileno(), process.stdout.fileno(), process.stderr.fileno()
    out: list[bytes] = []
    out_size = 0
    poller = select.poll()
    for fd in (out_fd, err_fd):
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    view = memoryview(payload)
    if view:
        os.set_blocking(in_fd, False)
        poller.register(in_fd, select.POLLOUT)
    else:
        process.stdin.close()
    reading = {out_fd, err_fd}
    exited = False
    try:
        while not exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(out), TIMED_OUT
            for fd, events in poller.poll(remaining * 1000):
                if fd == pidfd:
                    exited = True
                elif fd == in_fd:
                    try:
                        view = view[os.write(in_fd, view):]
                    except BlockingIOError:
                        continue
                    except OSError:  # it stopped reading (EPIPE): what it has is all it gets
                        view = view[:0]
                    if not view:
                        poller.unregister(in_fd)
                        process.stdin.close()
                elif fd in reading:
                    try:
                        data = os.read(fd, _READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not data:
                        poller.unregister(fd)
                        reading.discard(fd)
                        exited = exited or (pidfd < 0 and not reading)
                    elif fd == err_fd:
                        stderr.feed(data)
                    else:
                        out_size += len(data)
                        if out_size > max_stdout:
                            return b"", TOO_LARGE
                        out.append(data)
        # Everything it wrote before exiting is in the pipes now; still bounded.
        if err_fd in reading:
            stderr.feed(_drain_fd(err_fd, _READ_CHUNK * 64))
        if out_fd in reading:
            rest = _drain_fd(out_fd, max_stdout - out_size + 1)
            if out_size + len(rest) > max_stdout:
                return b"", TOO_LARGE
            out.append(rest)
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    return b"".join(out), EXITED


def _drain_fd(fd: int, limit: int) -> bytes:
    """What a non-blocking pipe holds right now, up to `limit` bytes."""
    parts = []
    size = 0
    while size < limit:
        try:
            data = os.read(fd, min(_READ_CHUNK, limit - size))
        except (BlockingIOError, OSError):
            break
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
