"""Build a pipeline entry's middleware: find its executable, pick its runner."""

from __future__ import annotations

import os
from collections.abc import Mapping

from openruntime import errors
from openruntime.config import MiddlewareConfig, Pipeline, max_concurrency
from openruntime.errors import InitFailure
from openruntime.locate import find_middleware, middleware_dirs
from openruntime.middleware.exec import ExecMiddleware
from openruntime.middleware.protocol import Middleware


def build_middleware(config: MiddlewareConfig, pipeline: Pipeline, environ: Mapping[str, str]) -> Middleware:
    """The runner for `config` (persistent or exec); InitFailure (Middleware.NotFound, naming
    the pipeline file and line) when its executable is not there."""
    if config.command:
        command = pipeline.resolve_command(config.command)
        program = command[0]
        if "/" in program and not os.access(program, os.X_OK):
            raise InitFailure(
                errors.MIDDLEWARE_NOT_FOUND,
                f"{pipeline.where(pipeline.middleware_field(config.name, 'command'))}: "
                f"middleware {config.name!r}: {program} does not exist or is not executable",
            )
    else:
        pipeline_dir = pipeline.base_dir if pipeline.source else None
        try:
            command = [str(find_middleware(config.name, middleware_dirs(environ, pipeline_dir)))]
        except LookupError as exc:
            where = pipeline.where(pipeline.middleware_field(config.name, "name"))
            raise InitFailure(errors.MIDDLEWARE_NOT_FOUND, f"{where}: {exc}") from None
    if config.mode == "persistent":
        from openruntime.middleware.persistent import PersistentMiddleware

        workers = max_concurrency(environ)
        if workers > 1:  # Managed Instances mode: a process per concurrent invocation
            from openruntime.middleware.pool import MiddlewarePool

            return MiddlewarePool([PersistentMiddleware(config, command, environ) for _ in range(workers)])
        return PersistentMiddleware(config, command, environ)
    return ExecMiddleware(config, command, environ)
