"""`openruntime bootstrap`: what a layer's /opt/bootstrap (or the exec wrapper) runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from openruntime.config import ConfigError, Pipeline, load_pipeline, pipeline_from_env
from openruntime.lambda_errors import error_body
from openruntime.locate import find_pipeline_file
from openruntime.orchestrator import Orchestrator, log
from openruntime.runtime_api import FatalUpstreamError, RuntimeAPIClient


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
    try:
        upstream = RuntimeAPIClient(address)
    except FatalUpstreamError as exc:
        log(str(exc))
        return 1
    try:
        pipeline = load_bootstrap_pipeline(pipeline_path)
    except ConfigError as exc:
        # A pipeline that cannot run is an init error: Lambda shows it to the caller.
        log(f"init failed: {exc}")
        try:
            upstream.post_init_error(error_body("Runtime.ConfigInvalid", str(exc)), "Runtime.ConfigInvalid")
        except FatalUpstreamError as post_exc:
            log(f"could not report the init error: {post_exc}")
        return 1
    return Orchestrator(pipeline, upstream, runtime_override=runtime_override).run()
