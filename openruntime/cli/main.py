"""`openruntime …`: invoke, serve, bootstrap, validate (and the layer/middleware tools).

Each command imports what it needs when it runs: `openruntime bootstrap` is on the cold
start of every Lambda sandbox and must not pay for the emulator or the layer builder.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from openruntime import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from openruntime.config import Pipeline
    from openruntime.emulator.sam_template import TemplateFunction
    from openruntime.emulator.sandbox import FunctionSettings, StreamedBody


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    runtime_command: list[str] = []
    if "--" in args_list:  # everything after `--` is a command line, not our options
        cut = args_list.index("--")
        args_list, runtime_command = args_list[:cut], args_list[cut + 1 :]
    args = parser.parse_args(args_list)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    args.runtime_command = runtime_command
    try:
        return int(args.run(args))
    except KeyboardInterrupt as stop:  # SIGINT, or SIGTERM (below): the `with` blocks have cleaned up
        signum = getattr(stop, "signum", 2)
        sys.stderr.write(f"openruntime: stopped by signal {signum}\n")
        return 128 + signum
    except BrokenPipeError:  # `openruntime validate … | head -1`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


@contextlib.contextmanager
def _nothing_left_behind() -> Iterator[None]:
    """`invoke` and `serve` host sandboxes: what their bootstraps start (and anything that
    escapes into a session of its own) is adopted here rather than by init, and ended
    when the command ends, as a Lambda sandbox's end ends everything in it."""
    from openruntime.processes import become_subreaper, end_descendants

    become_subreaper()
    try:
        yield
    finally:
        end_descendants()


def _terminate_as_interrupt() -> None:
    """SIGTERM ends `invoke` as Ctrl-C does: the emulator closes, which ends the bootstrap
    and everything it started, instead of leaving them behind."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        stop = KeyboardInterrupt()
        stop.signum = signum  # type: ignore[attr-defined]
        raise stop

    signal.signal(signal.SIGTERM, interrupt)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openruntime",
        description="Pipeline middleware runtime for AWS Lambda, with a local emulator.",
    )
    parser.add_argument("--version", action="version", version=f"openruntime {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    invoke = commands.add_parser(
        "invoke",
        help="run one invocation through emulator, orchestrator, middlewares and runtime",
        description="Start the emulator with the orchestrator as bootstrap, send one event, print "
        "the response body. Exit status 1 (and the error JSON) on a function error.",
    )
    _add_pipeline_options(invoke)
    invoke.add_argument("-e", "--event", default=None, metavar="FILE",
                        help="event JSON file, or - for standard input (default: {})")
    invoke.add_argument("--timeout", type=_timeout, default=None, metavar="S",
                        help="function timeout in seconds (default: the template's Timeout, else 300 like the RIE)")
    invoke.add_argument("function_id", nargs="?", metavar="FUNCTION",
                        help="a function of a SAM template by its logical id, as sam local invoke takes it "
                        "(--template, default ./template.yaml)")
    invoke.add_argument("--template", metavar="FILE",
                        help="invoke FUNCTION of this SAM template: its CodeUri's pipeline.yml, else its Runtime's "
                        "bundled runtime; Handler, Timeout, MemorySize, Environment from the template")
    _add_parameter_overrides(invoke)
    invoke.add_argument("--stream", action="store_true",
                        help="as InvokeWithResponseStream: print a streamed response's chunks as they "
                        "arrive (an error after the first byte goes to stderr, exit 1)")
    invoke.set_defaults(run=_run_invoke)

    serve = commands.add_parser(
        "serve",
        help="run the emulator: Invoke API on 127.0.0.1:PORT",
        description="Long-running local Lambda. Runs the orchestrator with --pipeline, or any "
        "bootstrap given after `--` (like aws-lambda-rie CMD ARGS…). Invoke with: curl -d '{}' "
        "http://127.0.0.1:8080/2015-03-31/functions/function/invocations",
    )
    _add_pipeline_options(serve)
    serve.add_argument("--port", type=_port, default=8080, help="Invoke API port (default 8080)")
    serve.add_argument("--concurrency", type=_positive, default=1, metavar="N",
                       help="keep up to N sandboxes (each its own bootstrap and /tmp, started on demand, "
                       "reused warm); callers beyond N wait for a free one (default 1)")
    serve.add_argument("--template", metavar="FILE",
                       help="serve the functions of a SAM template, each under its logical id (its CodeUri's "
                       "pipeline.yml, else its Runtime's bundled runtime; Handler, Timeout, MemorySize, "
                       "Environment from the template)")
    _add_parameter_overrides(serve)
    serve.add_argument("--function", action="append", default=[], metavar="NAME=PIPELINE",
                       help="serve several functions, each by its name in the Invoke API's path (repeatable; "
                       "instead of --pipeline); a name none has is Lambda's ResourceNotFoundException")
    serve.add_argument("--watch", action="store_true",
                       help="a change to the function's code, the pipeline or a middleware restarts the sandbox "
                       "(warm again from the next invocation on), without restarting serve")
    serve.add_argument("--http", type=_port, metavar="PORT",
                       help="also a real HTTP front on 127.0.0.1:PORT: each request becomes the event of "
                       "--http-event, the function's answer the HTTP response; with --template, the "
                       "template's Api/HttpApi routes, each to its function (like sam local start-api)")
    serve.add_argument("--http-event", choices=("v2", "url", "v1", "alb"), default="v2",
                       help="the event the HTTP front sends: API Gateway HTTP API payload 2.0 (v2, default), "
                       "function URL (url), REST API payload 1.0 (v1), ALB (alb)")
    busy = serve.add_mutually_exclusive_group()
    busy.add_argument("--throttle", dest="when_busy", action="store_const", const="throttle", default="queue",
                      help="answer a caller who finds every sandbox slot busy as Lambda throttles: 429 "
                      "TooManyRequestsException (default: the caller waits)")
    busy.add_argument("--strict-rie", dest="when_busy", action="store_const", const="strict-rie",
                      help="Managed Instances mode as AWS's RIE: 400 Runtime.Unavailable when no runtime "
                      "worker waits for an event")
    serve.add_argument("--runtime-api-port", type=_port, default=0,
                       help="Runtime API port (default: any free port)")
    serve.add_argument("--timeout", type=_timeout,
                       default=os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "300"),  # through _timeout too
                       metavar="S", help="function timeout in seconds (default: 300)")
    serve.set_defaults(run=_run_serve)

    bootstrap = commands.add_parser(
        "bootstrap",
        help="the orchestrator, as a layer's bootstrap runs it",
        description="Serve invocations from $AWS_LAMBDA_RUNTIME_API through the pipeline. "
        "Command after `--` replaces the runtime (exec-wrapper mode).",
    )
    bootstrap.add_argument("--pipeline", metavar="FILE",
                           help="pipeline file (default, the first found: $OPENRUNTIME_PIPELINE, "
                           "$LAMBDA_TASK_ROOT/pipeline.yml or .yaml, /opt/pipeline.json, /opt/pipeline.yml "
                           "or .yaml; none: SLSMIDDLEWARES)")
    bootstrap.set_defaults(run=_run_bootstrap)

    validate = commands.add_parser("validate", help="check a pipeline file",
                                   description="Validate a pipeline file and resolve its runtime and middlewares.")
    validate.add_argument("file", help="pipeline file (.yml/.yaml/.json)")
    validate.add_argument("--start", action="store_true",
                          help="also start each persistent middleware until it is ready, then stop it: a "
                          "configuration it refuses at start (a bad schema, a bad variable) shows before deploying")
    validate.set_defaults(run=_run_validate)

    for extension in ("openruntime.cli.layer", "openruntime.cli.middleware", "openruntime.cli.bench",
                      "openruntime.cli.init", "openruntime.cli.events"):
        _add_optional_commands(commands, extension)
    return parser


def _add_optional_commands(commands: argparse._SubParsersAction, module_name: str) -> None:  # type: ignore[type-arg]
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return
    register = getattr(module, "add_commands", None) or getattr(module, "add_layer_commands")
    register(commands)


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", metavar="FILE",
                        help="pipeline file (default: ./pipeline.yml; with --layer: the one compiled into the stack)")
    parser.add_argument("--handler", help="handler, overrides the pipeline's runtime.handler")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for the function (repeatable)")
    parser.add_argument("--layer", action="append", default=[], metavar="ZIP",
                        help="run with this layer stack extracted as /opt (repeatable, in order)")
    parser.add_argument("--env-vars", metavar="FILE",
                        help="environment variables from a JSON file in SAM's format: {\"Parameters\": {…} for every "
                        "function, \"<FunctionName>\": {…} for one}; --env wins over it")
    parser.add_argument("--debug-port", type=_port, metavar="PORT",
                        help="debug the handler: the bundled Python runtime waits for a debugpy client on "
                        "127.0.0.1:PORT, the Node runtime runs its inspector there")
    parser.add_argument("--extensions", metavar="DIR",
                        help="Lambda extensions to run beside the function: the executables in DIR, as "
                        "Lambda runs /opt/extensions (default: the --layer stack's extensions/)")
    parser.add_argument("--snapstart", action="store_true",
                        help="run the function as a SnapStart version: the runtime's before-snapshot hooks, "
                        "restore/next, its after-restore hooks; REPORT gives Restore Duration")
    parser.add_argument("--lambda-limits", action="store_true",
                        help="Lambda's throttles too: a streamed response's first 6 MB as fast as it "
                        "comes, the rest at about 2 MB/s (off by default: local runs go full speed)")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def _timeout(text: str | float) -> float:
    """Lambda's function timeout: more than 0, at most 900 s (fractions allowed locally)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 900:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 900 seconds (Lambda's limit), got {text}")
    return value


def _add_parameter_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parameter-overrides", action="append", default=[], metavar="'KEY=VALUE …'",
                        help="with --template: values of the template's Parameters, as sam takes them "
                        "('Key=Value Key2=Value2', or ParameterKey=Key,ParameterValue=Value), over their Defaults")


def _parameter_overrides(args: argparse.Namespace) -> dict[str, str]:
    """--parameter-overrides in either of SAM's spellings, split as SAM splits them: on
    spaces outside quotes, a value's commas kept (a list), its quotes taken off; a token in
    neither spelling is refused."""
    import shlex

    values: dict[str, str] = {}
    for item in args.parameter_overrides:
        try:
            tokens = shlex.split(item)
        except ValueError as exc:  # an unclosed quote
            raise SystemExit(_fail(f"--parameter-overrides: {item!r}: {exc}")) from None
        for token in tokens:
            if token.startswith("ParameterKey="):
                key, sep, value = token[len("ParameterKey="):].partition(",ParameterValue=")
                if not sep or not key:
                    raise SystemExit(_fail(f"--parameter-overrides: {token!r}: expected "
                                           "ParameterKey=KEY,ParameterValue=VALUE"))
                values[key] = value
                continue
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise SystemExit(_fail(f"--parameter-overrides: {token!r}: expected KEY=VALUE"))
            values[key] = value
    return values


def _positive(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 256:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 256, got {text!r}")
    return int(text)


def _fail(message: str) -> int:
    sys.stderr.write(f"openruntime: {message}\n")
    return 1


# -- invoke / serve ---------------------------------------------------------------------------


def _emulator_for(args: argparse.Namespace, timeout: float, stdout_to_stderr: bool,  # type: ignore[no-untyped-def]
                  function_name: str | None = None, memory_mb: int | None = None, aliases: tuple[str, ...] = ()):
    """The emulator running the orchestrator (or a given bootstrap) for invoke/serve;
    `function_name`: the function's name (serve --function), else Lambda's test default."""
    from openruntime.config import load_pipeline
    from openruntime.emulator.sandbox import INIT_BUDGET_S, LAMBDA_STREAM_BANDWIDTH, Emulator, FunctionSettings, stderr_log
    from openruntime.errors import ConfigError

    import dataclasses

    user_env = _function_env(args, function_name)
    env = dict(user_env)
    debugging = args.debug_port is not None
    if debugging:  # as sam local: no timeout stops a session at a breakpoint (init's, the orchestrator's, the function's)
        env["OPENRUNTIME_INIT_TIMEOUT_S"] = str(DEBUG_TIMEOUT_S)
        timeout = DEBUG_TIMEOUT_S
    if args.layer:
        opt = _extract_layers(args.layer)
        env["OPENRUNTIME_OPT"] = str(opt)
        # As on Lambda, a layer's bin/ and lib/ are searched last (PATH ends in /opt/bin,
        # LD_LIBRARY_PATH in /opt/lib): a layer's python3 or node serves `#!/usr/bin/env`.
        for name, sub in (("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")):
            env[name] = ":".join(p for p in (os.environ.get(name, ""), str(opt / sub)) if p)
        if not _stack_has_python(opt) and "OPENRUNTIME_PYTHON" not in env and "OPENRUNTIME_PYTHON" not in os.environ:
            # Where Lambda's /var/lang/bin/python3.x would be, this machine's: this interpreter.
            # Else /opt/bootstrap asks python3.14, python3.13 … on PATH for their version, and
            # where they are pyenv shims for versions not installed that is ~0.2 s each.
            env["OPENRUNTIME_PYTHON"] = sys.executable
    cwd = os.getcwd()
    handler = args.handler
    if handler:
        env["OPENRUNTIME_HANDLER"] = handler
    if args.runtime_command:
        command = list(args.runtime_command)
        if handler is None and len(command) >= 2:
            handler = command[-1]  # the RIE's rule: with two or more arguments, the last is the handler
    elif args.layer and not args.pipeline:
        # The stack's own bootstrap, with the pipeline compiled into it (or the task root's).
        opt = Path(env["OPENRUNTIME_OPT"])
        command = [str(opt / "bootstrap")]
        if not os.access(command[0], os.X_OK):
            raise SystemExit(_fail("the --layer stack has no executable bootstrap at /opt/bootstrap (add the "
                                   "orchestrator layer, or give --pipeline to run this installation's)"))
        for found in (opt / "pipeline.json", Path("pipeline.yml"), Path("pipeline.yaml")):
            if found.is_file():
                try:
                    _runtime_beside_the_stack(load_pipeline(found), opt, env)
                except ConfigError:
                    pass  # the stack's bootstrap reports it, as on Lambda
                break
    else:
        pipeline_path = Path(args.pipeline or "pipeline.yml")
        try:
            pipeline = load_pipeline(pipeline_path)
        except ConfigError as exc:
            raise SystemExit(_fail(str(exc))) from None
        env["OPENRUNTIME_PIPELINE"] = str(pipeline_path.resolve())
        if pipeline.runtime.task_root:
            cwd = pipeline.resolve_path(pipeline.runtime.task_root)
        handler = handler or pipeline.runtime.handler
        stack_bootstrap = Path(env["OPENRUNTIME_OPT"]) / "bootstrap" if args.layer else None
        if stack_bootstrap is not None and os.access(stack_bootstrap, os.X_OK):
            command = [str(stack_bootstrap)]  # the orchestrator as the layer stack ships it
            _runtime_beside_the_stack(pipeline, Path(env["OPENRUNTIME_OPT"]), env)
        else:  # no orchestrator layer in the stack (extensions, middlewares only): this installation's
            command = [sys.executable, "-m", "openruntime", "bootstrap"]
    function = FunctionSettings(timeout_s=timeout, handler=handler)
    if function_name:
        function = FunctionSettings(name=function_name, timeout_s=timeout, handler=handler,
                                    memory_mb=memory_mb or function.memory_mb, aliases=aliases)
    size = getattr(args, "concurrency", 1)
    # What a sandbox started now gets; serve --watch swaps in a new one whole (one assignment:
    # a sandbox starting meanwhile gets the old or the new settings, never half of each).
    current = [_Settings(env, function)]

    def sandbox(number: int, tmpdir: str | None) -> Emulator:
        now = current[0]
        own_env = now.env if tmpdir is None else {**now.env, "TMPDIR": tmpdir}  # each sandbox its own /tmp
        return Emulator(
            command=command,
            cwd=cwd,
            env=own_env,
            function=now.function,
            runtime_api_port=getattr(args, "runtime_api_port", 0) if size == 1 else 0,
            child_stdout=sys.stderr if stdout_to_stderr else None,
            stream_bandwidth=LAMBDA_STREAM_BANDWIDTH if args.lambda_limits else None,
            max_concurrency=_max_concurrency(env),
            when_busy=getattr(args, "when_busy", "queue"),
            extensions_dir=args.extensions,
            snapstart=args.snapstart,
            capture_output=True,  # LogType Tail from the Invoke API
            init_budget_s=DEBUG_TIMEOUT_S if debugging else INIT_BUDGET_S,
            log=stderr_log if size == 1 else lambda line: stderr_log(f"[sandbox {number}] {line}"),
        )

    when_busy = getattr(args, "when_busy", "queue")
    if when_busy == "strict-rie" and _max_concurrency(env) == 1:
        raise SystemExit(_fail("--strict-rie is AWS RIE's answer in Managed Instances mode: set "
                               "AWS_LAMBDA_MAX_CONCURRENCY (above 1) too, or leave it out"))
    target = sandbox(1, None) if size == 1 else _pool(sandbox, size, when_busy == "throttle")

    def reload(timeout_s: float | None = None, memory_mb: int | None = None) -> None:
        """The environment read again (the --env-vars file, a template's Environment), and
        from a template the timeout and memory: for the next, fresh environment."""
        nonlocal user_env
        fresh = _function_env(args, function_name)
        old = current[0]
        derived = {k: v for k, v in old.env.items() if user_env.get(k) != v}  # ours: layers, pipeline
        user_env = fresh
        new = _Settings({**fresh, **derived}, dataclasses.replace(
            old.function, timeout_s=timeout_s or old.function.timeout_s, memory_mb=memory_mb or old.function.memory_mb))
        current[0] = new
        target.reconfigure(new.env, new.function)

    reloaders = getattr(args, "reloaders", None)
    if reloaders is not None:
        reloaders.append(reload)
    return target


class _Settings:
    """A function's environment and settings as its next sandbox gets them."""

    __slots__ = ("env", "function")

    def __init__(self, env: dict[str, str], function: FunctionSettings) -> None:
        self.env, self.function = env, function


def _pool(sandbox, size: int, throttle: bool):  # type: ignore[no-untyped-def]
    from openruntime.emulator.pool import SandboxPool

    return SandboxPool(sandbox, size, throttle=throttle)


DEBUG_TIMEOUT_S = 12 * 3600.0  # --debug-port: time enough for any session at a breakpoint
_SAID: set[tuple[str | None, tuple[str, ...]]] = set()  # notes said once per serve, not per sandbox


def _function_env(args: argparse.Namespace, function_name: str | None) -> dict[str, str]:
    """A function's environment as the user gives it, in SAM's order: the template's
    Environment, then the --env-vars file, then --debug-port and --env."""
    env: dict[str, str] = dict(getattr(args, "template_env", {}))
    if args.env_vars:
        from_file = _env_vars_file(args.env_vars, function_name)
        declared: set[str] | None = getattr(args, "template_declared", None)
        if declared is not None:  # a template's function: only what its Environment declares, as sam local
            ignored = sorted(set(from_file) - declared)
            if ignored and (function_name, tuple(ignored)) not in _SAID:
                _SAID.add((function_name, tuple(ignored)))
                sys.stderr.write(f"openruntime: --env-vars {args.env_vars}: {', '.join(ignored)} not in "
                                 f"{function_name}'s Environment in the template: not set (sam local sets only the "
                                 "variables a function declares)\n")
            from_file = {name: value for name, value in from_file.items() if name in declared}
        env.update(from_file)
    if args.debug_port is not None:
        env["OPENRUNTIME_DEBUG_PORT"] = str(args.debug_port)
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(_fail(f"--env expects NAME=VALUE, got {item!r}"))
        env[name] = value
    return env


def _max_concurrency(env: dict[str, str]) -> int:
    """Managed Instances mode, selected as AWS's RIE selects it: AWS_LAMBDA_MAX_CONCURRENCY
    in the environment (the emulator's own, or --env)."""
    text = env.get("AWS_LAMBDA_MAX_CONCURRENCY") or os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    if text is None:
        return 1
    if not text.isdigit() or not 0 < int(text) <= 1024:
        raise SystemExit(_fail(f"AWS_LAMBDA_MAX_CONCURRENCY={text!r}: expected a whole number from 1 to 1024"))
    return int(text)


def _runtime_beside_the_stack(pipeline: Pipeline, opt: Path, env: dict[str, str]) -> None:
    """A stack deployed behind the exec wrapper (`openruntime init`'s: orchestrator and
    middlewares layers, the managed runtime running the handler) has no runtimes/: here this
    installation's bundled runtime stands in for Lambda's managed one, as without --layer."""
    from openruntime.locate import bundle_root

    name = pipeline.runtime.name
    if not name or pipeline.runtime.command or (opt / "runtimes" / name / "bootstrap").exists():
        return
    bundle = bundle_root()
    if bundle is None or not (bundle / "runtimes" / name / "bootstrap").exists():
        return
    env["OPENRUNTIME_RUNTIME_PATH"] = ":".join(
        p for p in (env.get("OPENRUNTIME_RUNTIME_PATH", os.environ.get("OPENRUNTIME_RUNTIME_PATH", "")),
                    str(bundle / "runtimes")) if p)
    sys.stderr.write(f"openruntime: runtime {name!r} is not in the --layer stack: this installation's runs the "
                     "handler (on Lambda, the managed runtime behind the exec wrapper does)\n")


def _extract_layers(zips: list[str]) -> Path:
    """The layer stack extracted, in order, into a temporary /opt (removed at exit)."""
    import atexit
    import shutil
    import tempfile

    from openruntime.layers.extract import extract_stack

    import zipfile
    import zlib

    from openruntime.layers.errors import LayerError

    root = Path(tempfile.mkdtemp(prefix="openruntime-opt-"))
    atexit.register(shutil.rmtree, root, True)
    try:
        return Path(extract_stack([Path(z) for z in zips], root))
    except LayerError as exc:
        raise SystemExit(_fail(f"--layer: {exc}")) from None
    except (zipfile.BadZipFile, zlib.error, OSError) as exc:  # a damaged zip, found while extracting
        raise SystemExit(_fail(f"--layer: a layer could not be extracted: {exc}")) from None


def _read_event(spec: str | None) -> bytes:
    """The event's bytes; empty (no --event, or an empty file or input) reaches the function
    as {}, as the Invoke API's missing payload does."""
    if spec is None:
        return b""
    if spec == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(spec).read_bytes()
    except OSError as exc:
        raise SystemExit(_fail(f"cannot read event file: {exc}")) from None


def _run_invoke(args: argparse.Namespace) -> int:
    _terminate_as_interrupt()
    event = _read_event(args.event)
    if event:
        import json

        try:
            json.loads(event)
        except RecursionError:
            pass  # nests deeper than Python's parser goes: not shown to be invalid; the runtime decides
        except ValueError as exc:
            where = "standard input" if args.event == "-" else args.event
            return _fail(f"{where}: the event is not JSON ({exc}); Lambda refuses such a payload "
                         "before any code runs (400 InvalidRequestContentException)")
    if args.template or args.function_id:
        target = _template_invoke_target(args)
    else:
        target = _emulator_for(args, 300.0 if args.timeout is None else args.timeout, stdout_to_stderr=True)
    with _nothing_left_behind(), target as emulator:
        result = emulator.invoke(event, stream=args.stream)
        if result.stream is not None:
            return _print_stream(result.stream)
    out = sys.stdout.buffer
    body = result.body
    if (result.function_error or result.status >= 400) and sys.stdout.isatty():
        body = _pretty_error(body)  # for a person at a terminal; a pipe gets the bytes as they are
    out.write(body)
    if not body.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
    return 1 if result.function_error or result.status >= 400 else 0


def _pretty_error(body: bytes) -> bytes:
    """An error JSON indented, its stack trace one frame a line, in red unless NO_COLOR."""
    import json

    try:
        error = json.loads(body)
        text = json.dumps(error, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return body
    if not os.environ.get("NO_COLOR"):
        text = f"\033[31m{text}\033[0m"
    return text.encode("utf-8")


def _serve_target(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """What `serve` serves: one function, or several by name (--function NAME=PIPELINE, or
    the functions of --template)."""
    if args.template:
        return _template_target(args)
    if not args.function:
        return _emulator_for(args, args.timeout, stdout_to_stderr=False)
    import copy

    from openruntime.emulator.functions import Functions

    if args.pipeline or args.runtime_command:
        raise SystemExit(_fail("--function NAME=PIPELINE names each function's pipeline: leave --pipeline and "
                               "`-- COMMAND` out"))
    targets = {}
    for item in args.function:
        name, sep, pipeline = item.partition("=")
        if not sep or not name or not pipeline:
            raise SystemExit(_fail(f"--function expects NAME=PIPELINE, got {item!r}"))
        if name in targets:
            raise SystemExit(_fail(f"--function {name!r} is given twice"))
        one = copy.copy(args)
        one.pipeline = pipeline
        targets[name] = _emulator_for(one, args.timeout, stdout_to_stderr=False, function_name=name)
    return Functions(targets)


def _template_target(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """serve --template: every function of the template, each under its logical id."""
    from openruntime.emulator.functions import Functions

    if args.function:
        raise SystemExit(_fail("--template names the functions: leave --function out"))
    functions, implicit = _template_functions(args)
    args.routes = [route for function in functions for route in function.routes]  # what --http serves
    args.template_names = {function.name for function in functions}  # what serve serves
    targets = {}
    for function in functions:  # in the template's order
        one, targets[function.name] = _template_function_target(args, function, implicit, stdout_to_stderr=False)
        reloaders = getattr(args, "reloaders", None)
        if reloaders is not None:  # serve --watch: the template is read again, then the environment
            reloaders.append(functools.partial(_reload_from_template, args, one, function.name, reloaders.pop()))
    return Functions(targets, fronted=next((f.name for f in functions if f.http), None))


def _template_invoke_target(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """invoke [--template FILE] FUNCTION: one function of a SAM template, by its logical id
    (the only one when the template has one), as `sam local invoke FUNCTION` picks it."""
    if args.template is None:
        found = [name for name in ("template.yaml", "template.yml") if Path(name).is_file()]
        if not found:
            raise SystemExit(_fail(f"{args.function_id}: a function of which template? (--template FILE; there is "
                                   "no template.yaml here)"))
        args.template = found[0]
    functions, implicit = _template_functions(args)
    names = sorted(f.name for f in functions)
    if args.function_id is None and len(functions) > 1:
        raise SystemExit(_fail(f"{args.template} has several functions ({', '.join(names)}): name one"))
    chosen = [f for f in functions if args.function_id in (None, f.name)]
    if not chosen:
        raise SystemExit(_fail(f"{args.template} has no function {args.function_id!r} (it has: {', '.join(names)})"))
    if args.timeout is not None:
        chosen[0].timeout_s = args.timeout  # --timeout over the template's Timeout
    return _template_function_target(args, chosen[0], implicit, stdout_to_stderr=True)[1]


def _template_functions(args: argparse.Namespace) -> tuple[list[TemplateFunction], Path]:
    """The template's functions, and a folder (removed at exit) for the implicit pipelines of
    those without a pipeline.yml; its notes said, and the --env-vars sections checked."""
    import atexit
    import shutil
    import tempfile

    from openruntime.emulator.sam_template import read_functions
    from openruntime.errors import ConfigError

    if args.pipeline or args.runtime_command:
        raise SystemExit(_fail("--template names the functions: leave --pipeline and `-- COMMAND` out"))
    try:
        functions = read_functions(args.template, _parameter_overrides(args))
    except ConfigError as exc:
        raise SystemExit(_fail(str(exc))) from None
    if args.env_vars:
        _say_unknown_env_vars_sections(args.env_vars, {f.name for f in functions})
    for function in functions:
        for note in function.notes:
            sys.stderr.write(f"openruntime: {note}\n")
    implicit = Path(tempfile.mkdtemp(prefix="openruntime-template-"))
    atexit.register(shutil.rmtree, implicit, True)
    return functions, implicit


def _template_function_target(args: argparse.Namespace, function: TemplateFunction, implicit: Path,
                              stdout_to_stderr: bool) -> tuple[argparse.Namespace, Any]:
    """The emulator for one function of a template: its CodeUri's pipeline.yml (else an
    implicit one on the bundled runtime its Runtime names), its settings and environment."""
    import copy

    one = copy.copy(args)
    own = function.code_dir / "pipeline.yml"
    if own.exists():
        one.pipeline = str(own)
    else:
        one.pipeline = str(implicit / f"{function.name}.yml")
        Path(one.pipeline).write_text(function.pipeline_text())
    one.handler = args.handler or function.handler
    one.template_env = dict(function.env)  # under --env-vars' section for it, and --env
    one.template_declared = function.declared
    target = _emulator_for(one, function.timeout_s, stdout_to_stderr=stdout_to_stderr, function_name=function.name,
                           memory_mb=function.memory_mb, aliases=(function.alias,) if function.alias else ())
    return one, target


def _reload_from_template(args: argparse.Namespace, one: argparse.Namespace, name: str,
                          reload: Callable[[float | None, int | None], None]) -> None:
    """serve --watch: function `name`'s Environment, timeout and memory as the template,
    read again by `_reload_settings`, now says."""
    function = getattr(args, "fresh_functions", {}).get(name)
    if function is None:
        sys.stderr.write(f"openruntime: {name} is no longer in {args.template}: restart serve to drop it\n")
        return
    one.template_env = dict(function.env)
    one.template_declared = function.declared
    reload(function.timeout_s, function.memory_mb)


def _stack_has_python(opt: Path) -> bool:
    """An interpreter layer in the stack (/opt/python/bin/python3*, /opt/bin/python3*): the
    one /opt/bootstrap then runs, as on Lambda."""
    return any(next((opt / folder).glob("python3*"), None) is not None for folder in ("python/bin", "bin"))


def _say_unknown_env_vars_sections(path: str, names: set[str]) -> None:
    """A section of the --env-vars file that names no function of the template (a typo, as
    SAM would silently ignore it): said once."""
    for section in sorted(set(_env_vars_document(path)) - names - {"Parameters"}):
        sys.stderr.write(f"openruntime: --env-vars {path}: section {section!r} names no function of the "
                         f"template ({', '.join(sorted(names))}); not used\n")


@functools.cache
def _env_vars_document(path: str) -> dict[str, dict[str, Any]]:
    """The --env-vars file, read and checked once however many functions it serves."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SystemExit(_fail(f"--env-vars {path}: {exc.strerror}")) from None
    except ValueError as exc:
        raise SystemExit(_fail(f"--env-vars {path}: not JSON ({exc})")) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SystemExit(_fail(f"--env-vars {path}: expected {{\"Parameters\": {{NAME: value}}, "
                               "\"FunctionName\": {NAME: value}}"))
    return data


def _env_vars_file(path: str, function_name: str | None = None) -> dict[str, str]:
    """SAM's --env-vars file: `Parameters` for every function, then the function's own
    section: the one named after it (its logical id in a template, its --function name),
    else, for a function without a name, the only section there is."""
    import json

    data = _env_vars_document(path)
    sections = [name for name in data if name != "Parameters"]
    if function_name is not None:
        sections = [function_name] if function_name in data else []
    elif len(sections) > 1:
        raise SystemExit(_fail(f"--env-vars {path}: sections for several functions ({', '.join(sections)}); "
                               "name the function (serve --template, or --function NAME=PIPELINE) or keep "
                               "Parameters and one section"))
    env: dict[str, str] = {}
    for section in ["Parameters", *sections]:
        for name, value in data.get(section, {}).items():
            if isinstance(value, (dict, list)):
                raise SystemExit(_fail(f"--env-vars {path}: {section}.{name}: expected a string, number or boolean"))
            # null is the empty string, as SAM's --env-vars has it (a way to blank a template's value)
            env[str(name)] = "" if value is None else json.dumps(value) if isinstance(value, bool) else str(value)
    return env


def _watched(args: argparse.Namespace) -> list[str]:
    """What `serve --watch` watches: the pipeline file, its folder's middlewares/, the task
    root (the function's code: the pipeline's folder when it names none), --extensions."""
    from openruntime.config import load_pipeline
    from openruntime.errors import ConfigError

    if not args.pipeline and not Path("pipeline.yml").exists():
        paths = [os.getcwd()]  # a bootstrap after `--`: its folder is all there is to watch
    else:
        pipeline_path = Path(args.pipeline or "pipeline.yml").resolve()
        paths = [str(pipeline_path), str(pipeline_path.parent / "middlewares")]
        try:
            pipeline = load_pipeline(pipeline_path)
            root = pipeline.resolve_path(pipeline.runtime.task_root) if pipeline.runtime.task_root else None
            paths.append(str(root or pipeline_path.parent))
        except ConfigError:
            paths.append(str(pipeline_path.parent))  # serve reports the error; the code is still watched
    if args.extensions:
        paths.append(args.extensions)
    paths += [p for p in (args.env_vars, getattr(args, "template", None)) if p]  # settings, read again
    return paths


def _reload_settings(args: argparse.Namespace) -> bool:
    """serve --watch, when the --env-vars file or the template changed: every function's
    settings read again, and the template's routes. False (and the reason said once) when
    a file cannot be used as it is now (half saved, say): the previous settings then stay."""
    from openruntime.emulator.sam_template import read_functions

    _env_vars_document.cache_clear()
    try:
        if args.env_vars:
            _env_vars_document(args.env_vars)  # read and checked once, before anything changes
        if args.template:
            fresh = read_functions(args.template, _parameter_overrides(args))
            known: set[str] = getattr(args, "template_names", set())
            for function in fresh:
                if known and function.name not in known:
                    sys.stderr.write(f"openruntime: {function.name} is new in {args.template}: restart serve "
                                     "to serve it\n")
            args.fresh_functions = {function.name: function for function in fresh}
            if getattr(args, "routes", None) is not None:
                args.routes[:] = [route for function in fresh if function.name in known or not known
                                  for route in function.routes]  # in place: the front holds this list
        for reload in args.reloaders:
            reload()
    except SystemExit:  # the error was said (a half-saved JSON file, say)
        sys.stderr.write("openruntime: the previous settings stay until the file is fixed\n")
        return False
    except Exception as exc:  # noqa: BLE001 - a template half saved can break its reader in any way
        sys.stderr.write(f"openruntime: {args.template or args.env_vars}: {exc}; the previous settings stay "
                         "until the file is fixed\n")
        return False
    return True


def _print_stream(stream: StreamedBody) -> int:
    """Each chunk to STDOUT as it arrives; how the stream ended to STDERR when it failed."""
    out = sys.stdout.buffer
    for chunk in stream:
        out.write(chunk)
        out.flush()
    if stream.error_type is not None:
        detail = (stream.error_body or b"").decode("utf-8", "replace")
        sys.stderr.write(f"openruntime: the stream ended with {stream.error_type}: {detail}\n")
        return 1
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    args.reloaders = [] if args.watch else None  # how each function's settings are read again
    with _nothing_left_behind(), _serve_target(args) as emulator:
        try:
            server = emulator.serve_invoke_api(args.port)
        except OSError as exc:
            return _fail(f"cannot listen on 127.0.0.1:{args.port}: {exc}")
        watcher = None
        if args.watch:
            from openruntime.emulator.watch import Watcher

            settings_files = {os.path.realpath(p) for p in (args.env_vars, args.template) if p}

            def changed(paths: list[str]) -> None:
                settings = [p for p in paths if os.path.realpath(p) in settings_files]
                code = [p for p in paths if p not in settings]
                if settings and _reload_settings(args):
                    sys.stderr.write(f"openruntime: {', '.join(settings)} changed: read again; the next invocation "
                                     "starts a fresh sandbox with it\n")
                if code:
                    more = f" and {len(code) - 1} more" if len(code) > 1 else ""
                    sys.stderr.write(f"openruntime: {code[0]}{more} changed: the next invocation starts a fresh "
                                     "sandbox\n")
                    emulator.restart()
                sys.stderr.flush()

            watcher = Watcher(_watched(args), changed).start()
        front = None
        routes = getattr(args, "routes", None)
        if args.http is not None:
            from openruntime.emulator.http_front import http_front, routed_front

            try:
                if routes:  # a template's Api/HttpApi events: each route to its function, in its API's format
                    front = routed_front(emulator, routes, args.http).start()
                else:
                    front = http_front(emulator.first() if hasattr(emulator, "first") else emulator, args.http,
                                       args.http_event).start()
            except OSError as exc:
                return _fail(f"cannot listen on 127.0.0.1:{args.http}: {exc}")
        names = list(emulator.targets) if hasattr(emulator, "targets") else ["function"]
        sys.stderr.write(
            (f"openruntime: functions: {', '.join(names)}\n" if len(names) > 1 or names != ["function"] else "")
            + f"openruntime: emulator ready: curl -d '{{}}' "
            f"http://127.0.0.1:{server.port}/2015-03-31/functions/{names[0]}/invocations\n"
            f"openruntime: Runtime API on {emulator.runtime_api}\n"
            + (f"openruntime: HTTP front ({args.http_event} events): curl http://127.0.0.1:{front.port}/\n"
               if front is not None and not routes else "")
            + "".join(f"openruntime: HTTP front: {route.key()} → {route.function} "
                      f"({'REST API' if route.api == 'rest' else 'HTTP API'}, payload {'1.0' if route.kind == 'v1' else '2.0'}) "
                      f"http://127.0.0.1:{front.port}{route.path}\n" for route in (routes or []) if front is not None)
        )
        sys.stderr.flush()
        stop.wait()
        if front is not None:
            front.close()
        if watcher is not None:
            watcher.stop()
    return 0


# -- bootstrap / validate ------------------------------------------------------------------------


def _run_bootstrap(args: argparse.Namespace) -> int:
    from openruntime.orchestrator.bootstrap import run_bootstrap

    return run_bootstrap(args.pipeline, args.runtime_command or None)


def _run_validate(args: argparse.Namespace) -> int:
    from openruntime.config import load_pipeline
    from openruntime.errors import ConfigError, InitFailure
    from openruntime.middleware.build import build_middleware
    from openruntime.orchestrator.launch import plan_runtime

    try:
        pipeline = load_pipeline(args.file)
    except ConfigError as exc:
        for found in exc.problems:  # every problem of the file, not only the first
            _fail(found.text)
        return 1
    problems: list[str] = []
    try:
        launch = plan_runtime(pipeline, os.environ)
    except (ConfigError, InitFailure) as exc:
        problems.append(str(exc))
    middlewares = []
    for config in pipeline.middlewares:
        try:
            middlewares.append(build_middleware(config, pipeline, os.environ))
        except (ConfigError, InitFailure) as exc:
            problems.append(str(exc))
    if not problems and args.start:
        problems += _start_each(middlewares)
    if problems:
        for problem in problems:
            _fail(problem)
        return 1
    print(f"{args.file}: OK" + (" (each persistent middleware started and ready)" if args.start else ""))
    print(f"  runtime: {' '.join(launch.command)} (cwd {launch.cwd})")
    for middleware in middlewares:
        c = middleware.config
        print(f"  middleware {c.name}: {' '.join(getattr(middleware, 'command', []))} "
              f"[{c.mode}; hooks {', '.join(c.hooks)}; timeout {c.timeout_ms} ms; on_error {c.on_error}"
              + (f"; on_stream {c.on_stream}" if c.on_stream != "pass" else "") + "]")
    print("  the order of an invocation:")
    for line in onion([(m.config.name, m.config.hooks) for m in middlewares]):
        print(f"    {line}")
    return 0


def _start_each(middlewares: list[Any]) -> list[str]:
    """validate --start: each persistent middleware started as the orchestrator starts it,
    until its ready frame, then stopped; what each said when it would not start."""
    from openruntime.errors import MiddlewareFailure

    problems = []
    for middleware in middlewares:
        if middleware.config.mode != "persistent":
            continue  # exec: nothing runs between calls
        try:
            middleware.start()
            middleware.await_ready()
        except MiddlewareFailure as failure:
            problems.append(failure.message)
        finally:
            middleware.stop()
    return problems


def onion(middlewares: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """The hooks an invocation goes through, in order: `before`s in pipeline order, the
    handler, then `after`s (or `error`s, on a failure) in reverse, and the `done`s in
    pipeline order once the answer is out, so that middleware order is never a surprise."""
    lines = [f"{'  ' * depth}→ {name}.before" for depth, (name, hooks) in enumerate(middlewares) if "before" in hooks]
    lines.append(f"{'  ' * len(middlewares)}handler")
    for depth in range(len(middlewares) - 1, -1, -1):
        name, hooks = middlewares[depth]
        back = [hook for hook in ("after", "error") if hook in hooks]
        if back:
            lines.append(f"{'  ' * depth}← {name}.{' / '.join(back)}")
    from openruntime.config import OBSERVER_HOOKS

    observers = [f"{name}.{hook}" for name, hooks in middlewares for hook in OBSERVER_HOOKS if hook in hooks]
    if observers:
        lines.append(f"then, once the answer is posted: {', '.join(observers)}")
    return lines
