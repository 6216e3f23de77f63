"""`openruntime middleware run NAME --hook HOOK`: one middleware hook, by hand.

A debugging tool. The middleware is found the way the orchestrator finds it (its
pipeline entry with --pipeline, else by name on the middleware path, or a path given as
NAME), runs in exec or persistent mode with a synthetic invocation context (a fresh
request id, deadline now + its timeout), and gets STDIN as its payload. The resulting
payload goes to STDOUT as bytes; the action, the duration and the state go to STDERR.
A failure exits 1 with the Lambda-shaped error JSON on STDOUT.

    openruntime middleware run auth --hook before < event.json
    openruntime middleware run ./mw/log --hook after --mode persistent --state '{"t": 1}' < response.json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from openruntime.config import HOOKS, MODES, OBSERVER_HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from openruntime.config import MiddlewareConfig, Pipeline
    from openruntime.middleware.protocol import Middleware

# The emulator's (and so `invoke`'s and `serve`'s) default: what a middleware keys on (the
# idempotency store's keys name the function) is the same in both commands.
FUNCTION_NAME = "test_function"


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    middleware = commands.add_parser(
        "middleware", help="work with one middleware by hand",
        description="Tools for a single middleware, outside of any invocation.",
    )
    sub = middleware.add_subparsers(title="middleware commands", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="run one hook of a middleware on STDIN, print the result",
        description="Run one hook of middleware NAME with a synthetic invocation context. The payload "
        "is STDIN ({} when STDIN is a terminal); the new payload goes to STDOUT, the action "
        "(continue/respond/fail), the duration and the state to STDERR. Exit 1, with the error "
        "JSON on STDOUT, when the hook fails.",
    )
    run.add_argument("name", metavar="NAME",
                     help="middleware name (its pipeline entry with --pipeline, else found on the middleware "
                     "path), or a path to the executable")
    run.add_argument("--hook", required=True, choices=HOOKS, help="the hook to call")
    run.add_argument("--mode", choices=MODES, default=None,
                     help="exec or persistent (default: the pipeline entry's mode, else exec)")
    run.add_argument("--pipeline", metavar="FILE", help="take the middleware's entry from this pipeline file")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="extra variable for the middleware, like its `env:` entries (repeatable)")
    run.add_argument("--content-type", default="application/json",
                     help="the payload's content type (default: application/json)")
    run.add_argument("--state", metavar="JSON", default=None,
                     help="the invocation state `before` would have left (for after/error hooks)")
    run.add_argument("--outcome", choices=("response", "error", "stream"), default=None,
                     help="for --hook done: what the payload is, as the orchestrator tells it (default: "
                     "response, or error for the error JSON of a failed invocation)")
    run.add_argument("--timeout-ms", type=int, default=None, metavar="MS",
                     help="the hook's timeout and the deadline's distance (default: the middleware's timeout_ms)")
    run.set_defaults(run=run_middleware)
    middleware.set_defaults(run=lambda args: (middleware.print_help(), 2)[1])


def _error(message: str) -> int:
    sys.stderr.write(f"openruntime middleware: {message}\n")
    return 1


class _Refused(Exception):
    """A command line or pipeline this command cannot use; the message says why."""


def run_middleware(args: argparse.Namespace) -> int:
    from openruntime.errors import InitFailure
    from openruntime.middleware.build import build_middleware

    try:
        pipeline, config, state = _what_to_run(args)
    except _Refused as refused:
        return _error(str(refused))
    environ = dict(os.environ)
    if pipeline.source and pipeline.runtime.task_root:
        # Where `invoke` runs the orchestrator, and so its middlewares: their relative paths
        # (a schema, a store folder) mean the same here.
        try:
            os.chdir(pipeline.resolve_path(pipeline.runtime.task_root))
        except OSError as exc:
            return _error(f"{pipeline.where('runtime.task_root')}: {exc.strerror}")
    try:
        middleware = build_middleware(config, pipeline, environ)
    except InitFailure as failure:
        sys.stdout.buffer.write(failure.body() + b"\n")
        return _error(f"{failure.error_type}: {failure}")
    return _call_once(args, config, middleware, state, environ)


def _what_to_run(args: argparse.Namespace) -> tuple[Pipeline, MiddlewareConfig, Any]:
    """The pipeline, the middleware's configuration (its entry, or defaults for a bare name
    or path, with the command line's overrides) and the state to hand it."""
    from openruntime.config import MiddlewareConfig, Pipeline, RuntimeConfig, load_pipeline
    from openruntime.errors import ConfigError

    extra_env: dict[str, str] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _Refused(f"--env expects NAME=VALUE, got {item!r}")
        extra_env[key] = value
    state: Any = None
    if args.state is not None:
        try:
            state = json.loads(args.state)
        except ValueError as exc:
            raise _Refused(f"--state is not JSON: {exc}") from None
    if args.pipeline:
        try:
            pipeline = load_pipeline(args.pipeline)
        except ConfigError as exc:
            raise _Refused(str(exc)) from None
        entries = {m.name: m for m in pipeline.middlewares}
        if args.name not in entries:
            known = ", ".join(entries) or "none"
            raise _Refused(f"{args.pipeline} has no middleware {args.name!r} (it has: {known})")
        config = entries[args.name]
    else:
        pipeline = Pipeline(runtime=RuntimeConfig(name="-"), base_dir=os.getcwd())
        if "/" in args.name:  # a path: run that executable, named after its file
            path = Path(args.name).resolve()
            config = MiddlewareConfig(name=path.name, command=(str(path),))
        else:
            config = MiddlewareConfig(name=args.name)
    if args.hook not in config.hooks:
        sys.stderr.write(f"note: the pipeline does not call {config.name!r} at {args.hook!r}; calling it anyway\n")
    config = config.replace(  # dataclasses.replace: the config classes are plain (cold start)
        hooks=tuple(h for h in HOOKS if h in config.hooks or h == args.hook),
        mode=args.mode or config.mode,
        env={**config.env, **extra_env},
        timeout_ms=args.timeout_ms or config.timeout_ms,
    )
    return pipeline, config, state


def _call_once(args: argparse.Namespace, config: MiddlewareConfig, middleware: Middleware, state: Any,
               environ: dict[str, str]) -> int:
    """One hook call with a synthetic invocation: the payload to STDOUT, the rest to STDERR."""
    from openruntime.errors import MiddlewareFailure
    from openruntime.invocation import Invocation
    from openruntime.middleware.protocol import InvocationScope, check_output
    from openruntime.middleware.state import remove_state_root

    payload = b"{}" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    invocation = Invocation(
        request_id=str(uuid.uuid4()),
        deadline_ms=int(time.time() * 1000) + config.timeout_ms,
        function_arn=_function_arn(environ),
        trace_id=f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=0",
        invocation_id=None,
        content_type=args.content_type,
        body=payload,
    )
    scope = InvocationScope()
    if args.hook == "done":
        scope.outcome = args.outcome or "response"
    if state is not None:  # what `before` would have left for this hook
        if config.mode == "persistent":
            scope.values[config.name] = state
        else:
            Path(scope.state_file(config.name)).write_text(json.dumps(state))
    info = sys.stderr.write
    info(f"middleware: {config.name} ({' '.join(getattr(middleware, 'command', []))}) mode {config.mode}\n")
    info(f"request_id: {invocation.request_id}\n")
    try:
        started = time.perf_counter()
        try:
            middleware.start()
            middleware.await_ready()
            if config.mode == "persistent":
                info(f"startup_ms: {(time.perf_counter() - started) * 1000:.3f}\n")
                if not middleware.handles(args.hook):
                    info(f"note: its ready frame does not list {args.hook!r}: passed through without a call\n")
            started = time.perf_counter()
            result = middleware.call(args.hook, payload, args.content_type, invocation, scope,
                                     config.timeout_ms / 1000)
            if args.hook not in OBSERVER_HOOKS:  # what an observer answers is not used: not checked
                check_output(result.payload, result.content_type, config.name, args.hook)
        except MiddlewareFailure as failure:
            info("action: fail\n")
            info(f"duration_ms: {(time.perf_counter() - started) * 1000:.3f}\n")
            info(f"state: {_state_text(config, scope)}\n")
            info(f"error: {failure.error_type}: {failure.message}\n")
            sys.stdout.buffer.write(failure.body(invocation.request_id) + b"\n")
            return 1
        duration_ms = (time.perf_counter() - started) * 1000
        info(f"action: {'respond' if result.respond else 'continue'}\n")
        info(f"duration_ms: {duration_ms:.3f}\n")
        info(f"state: {_state_text(config, scope)}\n")
        if result.content_type != args.content_type:
            info(f"content_type: {result.content_type}\n")
        out = sys.stdout.buffer
        out.write(result.payload)
        if sys.stdout.isatty() and not result.payload.endswith(b"\n"):
            out.write(b"\n")  # for the prompt's sake; a pipe gets the exact bytes
        out.flush()
        return 0
    finally:
        middleware.stop()
        scope.close()
        remove_state_root()


def _function_arn(environ: dict[str, str]) -> str:
    region = environ.get("AWS_REGION", "us-east-1")
    name = environ.get("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
    return f"arn:aws:lambda:{region}:012345678912:function:{name}"


def _state_text(config: Any, scope: Any) -> str:
    """The state as the next hook of this middleware would get it."""
    if config.mode == "persistent":
        value = scope.values.get(config.name)
        return "null" if value is None else json.dumps(value)
    try:
        text = Path(scope.state_file(config.name)).read_text(errors="replace")
    except OSError:
        text = ""
    return text if text else "(empty)"
