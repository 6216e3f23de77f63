"""Where runtimes, middlewares and pipeline files are found.

On Lambda everything a layer brings sits under /opt; locally (and for a layer stack
extracted into a temporary root) `OPENRUNTIME_OPT` names that root instead. A source
checkout also finds the bundled runtimes/ and middlewares/ beside the package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def opt_root(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("OPENRUNTIME_OPT", "/opt"))


def checkout_root() -> Path | None:
    """The source tree this package runs from, when it has the bundled folders."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "runtimes").is_dir() or (root / "middlewares").is_dir() else None


def middleware_dirs(environ: Mapping[str, str], pipeline_dir: str | None) -> list[Path]:
    dirs = [Path(p) for p in environ.get("OPENRUNTIME_MIDDLEWARE_PATH", "").split(":") if p]
    dirs.append(opt_root(environ) / "middlewares")
    if pipeline_dir:
        dirs.append(Path(pipeline_dir) / "middlewares")
    dirs.append(Path.cwd() / "middlewares")
    checkout = checkout_root()
    if checkout is not None:
        dirs.append(checkout / "middlewares")
    return list(dict.fromkeys(dirs))


def runtime_dirs(environ: Mapping[str, str]) -> list[Path]:
    dirs = [Path(p) for p in environ.get("OPENRUNTIME_RUNTIME_PATH", "").split(":") if p]
    dirs.append(opt_root(environ) / "runtimes")
    checkout = checkout_root()
    if checkout is not None:
        dirs.append(checkout / "runtimes")
    return list(dict.fromkeys(dirs))


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_middleware(name: str, dirs: list[Path]) -> Path:
    """`NAME` is the executable `DIR/NAME`, or `DIR/NAME/NAME` for a middleware folder."""
    for directory in dirs:
        for candidate in (directory / name, directory / name / name):
            if is_executable(candidate):
                return candidate
    searched = ", ".join(str(d) for d in dirs)
    raise LookupError(f"middleware {name!r} not found as an executable in: {searched}")


def find_runtime(name: str, dirs: list[Path]) -> Path:
    for directory in dirs:
        candidate = directory / name / "bootstrap"
        if is_executable(candidate):
            return candidate
    searched = ", ".join(str(d) for d in dirs)
    raise LookupError(f"runtime {name!r} not found (looked for {name}/bootstrap in: {searched})")


def find_pipeline_file(environ: Mapping[str, str]) -> Path | None:
    """The pipeline for `openruntime bootstrap` when none is named on the command line."""
    explicit = environ.get("OPENRUNTIME_PIPELINE")
    if explicit:
        return Path(explicit)
    candidates = []
    task_root = environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        candidates += [Path(task_root) / "pipeline.yml", Path(task_root) / "pipeline.yaml"]
    opt = opt_root(environ)
    candidates += [opt / "pipeline.json", opt / "pipeline.yml", opt / "pipeline.yaml"]
    return next((c for c in candidates if c.is_file()), None)
