"""Where runtimes, middlewares and pipeline files are found.

On Lambda everything a layer brings sits under /opt; locally (and for a layer stack
extracted into a temporary root) `OPENRUNTIME_OPT` names that root instead. The bundled
runtimes/ and middlewares/ come last: from the wheel's `openruntime/_bundled/`, or from a
source checkout beside the package (editable installs).

Paths are strings (os.path): this module is on the cold path, before the runtime is
started, where importing pathlib would cost a few milliseconds.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path


def _clean(path: str) -> str:
    """`str(Path(path))`: no empty or `.` parts, no trailing slash ("" is ".")."""
    parts = [p for p in path.split("/") if p and p != "."]
    root = "/" if path.startswith("/") else ""
    return root + "/".join(parts) or "."


def _unique(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(_clean(p) for p in paths))


def opt_root(environ: Mapping[str, str]) -> str:
    return _clean(environ.get("OPENRUNTIME_OPT", "/opt"))


def _bundle_dir() -> str | None:
    """The folder holding the bundled runtimes/ and middlewares/: `_bundled/` inside an
    installed wheel, else the source checkout this package runs from (editable installs)."""
    package = os.path.dirname(os.path.realpath(__file__))
    for root in (os.path.join(package, "_bundled"), os.path.dirname(package)):
        if os.path.isdir(os.path.join(root, "runtimes")) or os.path.isdir(os.path.join(root, "middlewares")):
            return root
    return None


def bundle_root() -> Path | None:
    """Where the bundled runtimes/ and middlewares/ are (wheel or checkout), if anywhere."""
    root = _bundle_dir()
    if root is None:
        return None
    from pathlib import Path

    return Path(root)


def checkout_root() -> Path | None:
    """The source tree this package runs from (it has benchmarks/ and tests/), if any."""
    package = os.path.dirname(os.path.realpath(__file__))
    root = os.path.dirname(package)
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return None
    from pathlib import Path

    return Path(root)


def middleware_dirs(environ: Mapping[str, str], pipeline_dir: str | None) -> list[str]:
    dirs = [p for p in environ.get("OPENRUNTIME_MIDDLEWARE_PATH", "").split(":") if p]
    dirs.append(os.path.join(opt_root(environ), "middlewares"))
    if pipeline_dir:
        dirs.append(os.path.join(pipeline_dir, "middlewares"))
    dirs.append(os.path.join(os.getcwd(), "middlewares"))
    bundle = _bundle_dir()
    if bundle is not None:  # the built-ins come last: a folder of your own wins
        dirs.append(os.path.join(bundle, "middlewares"))
    return _unique(dirs)


def sdk_dir(environ: Mapping[str, str]) -> str | None:
    """The middleware SDKs' folder (`python/`, `node/`, `bash/`): the middlewares layer's
    (`/opt/middlewares/lib`), else this installation's bundled copy."""
    candidates = [os.path.join(opt_root(environ), "middlewares", "lib")]
    bundle = _bundle_dir()
    if bundle is not None:
        candidates.append(os.path.join(bundle, "middlewares", "lib"))
    return next((c for c in candidates if os.path.isfile(os.path.join(c, "python", "openruntime_middleware.py"))),
                None)


def runtime_dirs(environ: Mapping[str, str]) -> list[str]:
    dirs = [p for p in environ.get("OPENRUNTIME_RUNTIME_PATH", "").split(":") if p]
    dirs.append(os.path.join(opt_root(environ), "runtimes"))
    bundle = _bundle_dir()
    if bundle is not None:
        dirs.append(os.path.join(bundle, "runtimes"))
    return _unique(dirs)


def is_executable(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_middleware(name: str, dirs: Iterable[str | os.PathLike[str]]) -> str:
    """`NAME` is the executable `DIR/NAME`, or `DIR/NAME/NAME` for a middleware folder. A
    file there that is not executable is an error, not a reason to look further: a user's
    own `middlewares/stamp/stamp` without its execute bit must not become the built-in one."""
    folders = [_clean(os.fspath(d)) for d in dirs]
    for directory in folders:
        for candidate in (os.path.join(directory, name), os.path.join(directory, name, name)):
            if is_executable(candidate):
                return _clean(candidate)
            if os.path.isfile(candidate):
                raise LookupError(f"middleware {name!r}: {_clean(candidate)} is not executable "
                                  f"(chmod +x {_clean(candidate)})")
    searched = ", ".join(folders)
    raise LookupError(f"middleware {name!r} not found as an executable{_near_miss(name, folders)} in: {searched}")


def _near_miss(name: str, folders: list[str]) -> str:
    """' (did you mean 'validate'?)' when a folder holds a close name, else ''."""
    import difflib  # only on this error path

    names: set[str] = set()
    for directory in folders:
        try:
            names.update(entry for entry in os.listdir(directory) if not entry.startswith((".", "_")))
        except OSError:
            continue
    names.discard(name)  # a folder of that very name without the executable: no suggestion
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def find_runtime(name: str, dirs: Iterable[str | os.PathLike[str]]) -> str:
    folders = [_clean(os.fspath(d)) for d in dirs]
    for directory in folders:
        candidate = os.path.join(directory, name, "bootstrap")
        if is_executable(candidate):
            return _clean(candidate)
    searched = ", ".join(folders)
    raise LookupError(f"runtime {name!r} not found (looked for {name}/bootstrap in: {searched})")


def find_pipeline_file(environ: Mapping[str, str]) -> str | None:
    """The pipeline for `openruntime bootstrap` when none is named on the command line."""
    explicit = environ.get("OPENRUNTIME_PIPELINE")
    if explicit:
        return _clean(explicit)
    candidates = []
    task_root = environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        candidates += [os.path.join(task_root, "pipeline.yml"), os.path.join(task_root, "pipeline.yaml")]
    opt = opt_root(environ)
    candidates += [os.path.join(opt, "pipeline.json"), os.path.join(opt, "pipeline.yml"), os.path.join(opt, "pipeline.yaml")]
    return next((_clean(c) for c in candidates if os.path.isfile(c)), None)
