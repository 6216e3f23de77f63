"""`openruntime bootstrap`: what a layer's /opt/bootstrap (or the exec wrapper) runs."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C half: no enum import on the cold path
import os
import sys

from openruntime import errors
from openruntime.config import Pipeline, load_pipeline, pipeline_from_env
from openruntime.errors import ConfigError, InitFailure, error_body
from openruntime.function_log import log
from openruntime.locate import find_pipeline_file
from openruntime.orchestrator.launch import EarlyStart, Prestarted, start_early
from openruntime.processes import become_subreaper, end_descendants

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Sequence

# Deliberately not imported here: openruntime.orchestrator.loop and openruntime.runtime_api.client
# (sockets, threads, subprocess, the middleware runners: ~40 ms). They load after the
# runtime has been started, while it boots. What this module and the ones above import
# before that is only `os` and three C extension modules (_json, _socket, _ctypes): see
# docs/benchmarks.md, "Cold start".


def load_bootstrap_pipeline(explicit: str | None) -> Pipeline:
    path = explicit or find_pipeline_file(os.environ)
    if path is None:
        return pipeline_from_env(os.environ)
    return load_pipeline(path)


def run_bootstrap(pipeline_path: str | None, runtime_override: Sequence[str] | None) -> int:
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write(
            "openruntime bootstrap: AWS_LAMBDA_RUNTIME_API is not set; this command runs inside "
            "Lambda or under the emulator (try `openruntime invoke` or `openruntime serve`)\n"
        )
        return 1
    early: EarlyStart | None = None
    config_error: ConfigError | None = None
    # The runtime the layer's /opt/bootstrap may have started already (docs/layers.md);
    # never on the exec wrapper's path, which starts the managed runtime's command line.
    prestarted = Prestarted.from_environ(os.environ)
    if runtime_override:
        prestarted = None
    try:
        pipeline = load_bootstrap_pipeline(pipeline_path)
        early = start_early(pipeline, os.environ, runtime_override, prestarted)
    except ConfigError as exc:
        if prestarted is not None:
            prestarted.kill()
        config_error = exc
    except InitFailure:
        pass  # Orchestrator.init() plans again and reports it as an init error

    from openruntime.orchestrator.loop import Orchestrator
    from openruntime.errors import FatalUpstreamError
    from openruntime.runtime_api.client import RuntimeAPIClient

    try:
        upstream = RuntimeAPIClient(address)
    except FatalUpstreamError as exc:
        log(str(exc), "FATAL")
        if early is not None and early.process is not None:
            early.process.kill()
        return 1
    upstream.connect()  # while the runtime boots: its first /next then goes out at once (~2 ms)
    if config_error is not None:
        # A pipeline that cannot run is an init error: Lambda shows it to the caller.
        log(f"init failed: {config_error}", "ERROR")
        try:
            upstream.post_init_error(error_body(errors.RUNTIME_CONFIG_INVALID, str(config_error)), errors.RUNTIME_CONFIG_INVALID)
        except FatalUpstreamError as post_exc:
            log(f"could not report the init error: {post_exc}", "ERROR")
        return 1
    # This process is the sandbox's: whatever a runtime or middleware starts stays below it,
    # even in a session of its own, and ends with it; a dead parent (a killed emulator) is
    # a SIGTERM, so that this cleanup still runs.
    become_subreaper(parent_death_signal=_signal.SIGTERM)
    try:
        return Orchestrator(pipeline, upstream, runtime_override=runtime_override, early=early).run()
    finally:
        for sig in (_signal.SIGTERM, _signal.SIGINT):  # nothing may cut this last sweep short
            _signal.signal(sig, _signal.SIG_IGN)
        end_descendants()  # what they left running, as a sandbox's end does


def main_argv(argv: Sequence[str]) -> int | None:
    """`bootstrap [--pipeline FILE] [-- COMMAND…]` without argparse; None: anything else
    (--help, a typo), which the full CLI then handles."""
    args = list(argv)
    override: list[str] | None = None
    if "--" in args:
        cut = args.index("--")
        args, override = args[:cut], args[cut + 1 :]
    pipeline: str | None = None
    if len(args) == 2 and args[0] == "--pipeline":
        pipeline = args[1]
    elif len(args) == 1 and args[0].startswith("--pipeline="):
        pipeline = args[0].split("=", 1)[1]
    elif args:
        return None
    return run_bootstrap(pipeline, override or None)
