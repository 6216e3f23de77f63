"""A middleware's own defaults: `middleware.json` in its folder.

A pipeline entry that is only a name (`- http`) gets the hooks and mode its middleware is
written for, not the generic `[before, after]` in exec mode: a built-in `http` without
its `error` hook lets a handler's exception through (API Gateway answers 502), an
`idempotency` without it keeps a failed key locked, and exec mode starts a process per
hook. The folder of the middleware found by name may hold `middleware.json`:

    {"hooks": ["before", "after", "error"], "mode": "persistent"}

What the entry writes wins, field by field. A pipeline's YAML is resolved this way when
it is loaded; its compiled form (pipeline.json in a layer) carries the resolved values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from openruntime.config import HOOKS, MODES, MiddlewareConfig, Pipeline
from openruntime.errors import ConfigError
from openruntime.locate import find_middleware, middleware_dirs

DEFAULTS_FILE = "middleware.json"
_SIZE_LIMIT = 64 * 1024  # a few settings; anything bigger is not this file


def with_middleware_defaults(pipeline: Pipeline, environ: Mapping[str, str]) -> Pipeline:
    """`pipeline` with each name-only entry's unwritten `hooks`/`mode` taken from its
    middleware's `middleware.json` (ConfigError naming that file when it is malformed).
    A middleware not found here keeps the generic defaults: starting it reports that."""
    resolved: list[MiddlewareConfig] = []
    for config in pipeline.middlewares:
        unwritten = [key for key in ("hooks", "mode") if pipeline.middleware_field(config.name, key) not in pipeline.lines]
        if config.command is not None or not unwritten:
            resolved.append(config)
            continue
        try:
            executable = find_middleware(config.name, middleware_dirs(environ, pipeline.base_dir))
        except LookupError:
            resolved.append(config)
            continue
        folder = os.path.dirname(executable)
        if os.path.basename(folder) != config.name:  # DIR/NAME, a file among others: no folder of its own
            resolved.append(config)
            continue
        defaults = read_defaults(os.path.join(folder, DEFAULTS_FILE))
        resolved.append(config.replace(**{key: defaults[key] for key in unwritten if key in defaults}))
    if all(a is b for a, b in zip(resolved, pipeline.middlewares)):
        return pipeline
    return Pipeline(pipeline.runtime, tuple(resolved), pipeline.base_dir, pipeline.source, pipeline.lines)


def read_defaults(path: str) -> dict[str, object]:
    """The hooks and mode a `middleware.json` declares ({} when there is none)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(_SIZE_LIMIT + 1)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the middleware's defaults: {exc}", path) from None
    import json

    try:
        data = json.loads(text) if len(text) <= _SIZE_LIMIT else None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"not JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise ConfigError('expected an object like {"hooks": ["before", "after"], "mode": "persistent"}', path)
    unknown = sorted(set(data) - {"hooks", "mode"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a default a middleware can declare (hooks, mode)", path)
    defaults: dict[str, object] = {}
    if "hooks" in data:
        hooks = data["hooks"]
        if not isinstance(hooks, list) or not hooks or not all(isinstance(h, str) and h in HOOKS for h in hooks):
            raise ConfigError(f"hooks: expected a non-empty list of {', '.join(HOOKS)}, got {json.dumps(hooks)}",
                              path)
        defaults["hooks"] = tuple(dict.fromkeys(hooks))
    if "mode" in data:
        if data["mode"] not in MODES:
            raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {json.dumps(data['mode'])}", path)
        defaults["mode"] = data["mode"]
    return defaults
