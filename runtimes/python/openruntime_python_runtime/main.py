"""The runtime's life: set up, load the handler (or report an init error), then loop
GET /next → handler(event, context) → POST /response or /error, forever."""

from __future__ import annotations

import io
import logging
import os
import site
import sys

from openruntime_python_runtime import lambda_logging
from openruntime_python_runtime.client import Invocation, RuntimeAPIClient, RuntimeAPIError
from openruntime_python_runtime.context import create_context
from openruntime_python_runtime.errors import (
    FaultError,
    error_from_exception,
    error_from_fault,
    make_error,
)
from openruntime_python_runtime.handler_loader import load_handler
from openruntime_python_runtime.marshalling import Marshaller

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any, NoReturn, TextIO

    from openruntime_python_runtime.handler_loader import Handler

# The directory holding this package (the layer root next to `bootstrap`): it must not
# stay on sys.path, where its neighbours could shadow the user's modules.
RUNTIME_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

UNHANDLED_INIT_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. "
    "The most likely cause is an issue in the function code.\r"
)


class _Unbuffered:
    """Flush after every write (used only when Python was not started with -u)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def write(self, msg: str) -> int:
        n = self.stream.write(msg)
        self.stream.flush()
        return n

    def writelines(self, lines: Any) -> None:
        self.stream.writelines(lines)
        self.stream.flush()


def _unbuffer_std_streams() -> None:
    # Logs must reach Lambda before the environment is frozen after a response. With
    # `python -u` (what bootstrap runs) or PYTHONUNBUFFERED the streams already are.
    if isinstance(getattr(sys.stdout, "buffer", None), io.BufferedWriter):
        sys.stdout = _Unbuffered(sys.stdout)
    if isinstance(getattr(sys.stderr, "buffer", None), io.BufferedWriter):
        sys.stderr = _Unbuffered(sys.stderr)


def setup_sys_path(task_root: str) -> None:
    """Task root first, then the layers' Python dirs, as the managed Python runtime does
    (/opt, or where the emulator extracted a --layer stack: $OPENRUNTIME_OPT)."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    front = [task_root]
    opt = os.environ.get("OPENRUNTIME_OPT") or "/opt"
    for layer_dir in (f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"):
        if os.path.isdir(layer_dir):
            front.append(layer_dir)
    rest = [
        p
        for p in sys.path
        if p not in front and p != "" and os.path.abspath(p) != RUNTIME_ROOT
    ]
    sys.path[:] = front + rest
    for directory in front:
        site.addsitedir(directory)  # already on sys.path: this only runs its .pth files
    sys.path[:] = dict.fromkeys(sys.path)  # addsitedir may re-append a dir it can't see


class Runtime:
    def __init__(self, client: RuntimeAPIClient, marshaller: Marshaller, log_sink: lambda_logging.LogSink, is_json: bool) -> None:
        self.client = client
        self.marshaller = marshaller
        self.to_json = marshaller.encoder.encode
        self.log_error = lambda_logging.make_error_logger(log_sink, is_json, self.to_json)

    def init(self, handler_name: str) -> Handler:
        """Load the handler; on failure report it to /init/error and exit 1."""
        try:
            return load_handler(handler_name)
        except FaultError as fault:
            error = make_error(fault.msg, fault.error_type, fault.trace)
        except Exception as exc:
            error, _ = error_from_exception(exc, skip_import_machinery=True)
        logging.warning(UNHANDLED_INIT_WARNING)
        self.log_error(error)
        self.client.post_init_error(_utf8(self.to_json(error)), error["errorType"])
        sys.exit(1)

    def handle(self, handler: Handler, invocation: Invocation) -> None:
        lambda_logging.set_request(invocation.request_id, invocation.tenant_id)
        if invocation.trace_id is not None:
            os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)

        try:
            context = create_context(
                invocation.request_id,
                invocation.client_context,
                invocation.cognito_identity,
                invocation.deadline_ms,
                invocation.invoked_function_arn,
                invocation.tenant_id,
            )
            event = self.marshaller.unmarshal_request(invocation.body, invocation.content_type)
            result = handler(event, context)
            if _is_generator(handler):
                self._stream(handler, result, invocation)
                return
            body, content_type = self.marshaller.marshal_response(result)
        except FaultError as fault:
            error, xray_cause = error_from_fault(fault, invocation.request_id)
        except Exception as exc:
            error, xray_cause = error_from_exception(exc, invocation.request_id)
        else:
            self.client.post_response(invocation.request_id, body, content_type, invocation.invocation_id)
            return

        self.log_error(error)
        self.client.post_error(
            invocation.request_id,
            _utf8(self.to_json(error)),
            error["errorType"],
            self.to_json(xray_cause),
            invocation.invocation_id,
        )


    def _stream(self, handler: Handler, result: Any, invocation: Invocation) -> None:
        """A generator handler's response, streamed. Its first chunk is produced before the
        stream opens, so a failure before any byte is an ordinary invocation error."""
        from openruntime_python_runtime import streaming  # only streaming handlers load it

        chunks = streaming.chunks(result, self.to_json)
        first = next(chunks, None)  # raises like the handler: handle() reports it as usual

        def rest() -> Generator[bytes, None, None]:
            if first is not None:
                yield first
            yield from chunks

        def error_after(exc: BaseException) -> tuple[str, bytes]:
            error, _ = error_from_exception(exc, invocation.request_id)
            self.log_error(error)
            return error["errorType"], _utf8(self.to_json(error))

        stream = rest()
        try:
            self.client.post_stream(invocation.request_id, stream, streaming.content_type_of(handler),
                                    invocation.invocation_id, error_after)
        except RuntimeAPIError as exc:
            # The Runtime API stopped reading (past a limit, or the invocation ended): the
            # caller has its answer already; one line here, and the handler's generator closed.
            stream.close()
            sys.stderr.write(f"openruntime-python: the streamed response was cut off: {exc}\n")


def _is_generator(handler: Handler) -> bool:
    """A generator (or async generator) function: its response is streamed (streaming.py)."""
    code = getattr(handler, "__code__", None)
    return code is not None and bool(code.co_flags & 0x220)  # CO_GENERATOR | CO_ASYNC_GENERATOR


def _utf8(text: str) -> bytes:
    # A lone surrogate in an exception message must not take the runtime down.
    return text.encode("utf-8", "backslashreplace")


def _fatal(message: str) -> NoReturn:
    sys.stderr.write(f"openruntime python runtime: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


def main(argv: list[str] | None = None) -> NoReturn:
    argv = sys.argv if argv is None else argv
    go = os.environ.pop("OPENRUNTIME_PRESTART_GO", None)
    if go:  # started by the layer's /opt/bootstrap: nothing of the function runs before this
        from openruntime_python_runtime.prestart import await_plan

        await_plan(go)
    _unbuffer_std_streams()
    handler_name = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set (expected host:port of the Lambda Runtime API)")

    setup_sys_path(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    is_json = lambda_logging.log_format_is_json()
    log_sink = lambda_logging.create_log_sink(is_json)
    lambda_logging.setup_logging(log_sink, is_json, lambda_logging.log_level_from_env())

    workers = _max_concurrency()
    if os.environ.get("OPENRUNTIME_DEBUG_PORT"):
        _wait_for_debugger(os.environ["OPENRUNTIME_DEBUG_PORT"], workers)
    if workers > 1:
        _run_workers(workers, lambda ready: _serve(address, handler_name, log_sink, is_json, ready))
    _serve(address, handler_name, log_sink, is_json)


def _serve(address: str, handler_name: str, log_sink: lambda_logging.LogSink, is_json: bool,
           ready: Callable[[], None] | None = None) -> NoReturn:
    """The loop: init the handler, then GET /next → handler → POST, for good."""
    runtime = Runtime(RuntimeAPIClient(address), Marshaller(), log_sink, is_json)
    try:
        handler = runtime.init(handler_name)
        if ready is not None:
            ready()
        while True:
            runtime.handle(handler, runtime.client.next_invocation())
    except RuntimeAPIError as exc:
        _fatal(str(exc))


def _wait_for_debugger(port_text: str, workers: int) -> None:
    """`openruntime invoke/serve --debug-port PORT`: debugpy listens on 127.0.0.1:PORT and
    the handler is loaded once a debugger (VS Code, PyCharm: "attach") is connected, as
    `sam local invoke -d` does. Without debugpy, one line says how to get it and the
    function runs undebugged."""
    if workers > 1:
        sys.stderr.write("openruntime-python: --debug-port: not with several workers (Managed Instances mode)\n")
        return
    try:
        import debugpy  # type: ignore[import-not-found]
    except ImportError:
        sys.stderr.write("openruntime-python: --debug-port needs debugpy: pip install debugpy (into the "
                         "function's folder, or the Python that runs it); running without a debugger\n")
        return
    debugpy.listen(("127.0.0.1", int(port_text)))
    sys.stderr.write(f"openruntime-python: waiting for a debugger (debugpy) on 127.0.0.1:{port_text}\n")
    debugpy.wait_for_client()


def _max_concurrency() -> int:
    """Lambda Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once."""
    text = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _run_workers(count: int, serve: Callable[[Callable[[], None]], NoReturn]) -> NoReturn:
    """Managed Instances mode, as awslambdaric 4 does it: `count` forked worker processes,
    each its own loop (and its own init: the handler's module is loaded in each) on its own
    connection; the Runtime API hands each event to exactly one of them. Unlike
    awslambdaric, a worker that dies (its invocation is lost: the caller gets a timeout) is
    replaced, so the environment keeps its capacity; after RESPAWN_BUDGET replacements in a
    row without a minute of calm, this process exits and the environment is recycled. A
    worker that dies before its init finished (an init error, already reported) is not
    replaced: this process exits with its status, as the single-worker runtime would."""
    import time

    ready_read, ready_write = os.pipe()
    os.set_blocking(ready_read, False)

    def fork() -> int:
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            def ready() -> None:
                os.write(ready_write, os.getpid().to_bytes(4, "little"))

            serve(ready)
        return pid

    children = {fork() for _ in range(count)}
    initialised: set[int] = set()
    respawns: list[float] = []
    while True:
        pid, waited = os.wait()
        children.discard(pid)
        status = os.waitstatus_to_exitcode(waited)
        try:
            news = os.read(ready_read, 4096)
        except BlockingIOError:
            news = b""
        initialised.update(int.from_bytes(news[i:i + 4], "little") for i in range(0, len(news) - 3, 4))
        if pid not in initialised:
            for child in children:
                os.kill(child, 9)
            sys.exit(status if status >= 0 else 128 - status)
        now = time.monotonic()
        respawns = [t for t in respawns if now - t < 60] + [now]
        if len(respawns) > RESPAWN_BUDGET:
            for child in children:
                os.kill(child, 9)
            sys.exit(status if status >= 0 else 128 - status)
        children.add(fork())


RESPAWN_BUDGET = 20  # worker replacements within a minute before giving up
