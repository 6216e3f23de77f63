"""`openruntime init [DIR] [--runtime python|node] [--force]`: scaffold a function project.

It writes a pipeline with built-in middlewares, a handler, real AWS sample events, a SAM
template wired to the layers `openruntime layer build --out layers` makes, a Makefile for
`sam build`, and a README. The files are package data in `init_templates/`: `common/`,
then `<runtime>/` (`SOURCES.md` there says where the events come from). This module is
imported on every `openruntime` call, so it imports nothing beyond the standard library's
basics until `init` runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

RUNTIMES = ("python", "node")
# Template files stored under another name: dotfiles are no package data by default.
RENAMED = {"gitignore": ".gitignore"}
# Written only where there is none; never overwritten, not even with --force.
KEEP_IF_PRESENT = frozenset({".gitignore"})


def _fail(message: str) -> int:
    print(f"openruntime init: {message}", file=sys.stderr)
    return 1


def template_files(runtime: str) -> dict[str, bytes]:
    """What `init` writes for `runtime`: relative path -> content (runtime files win)."""
    from importlib.resources import files

    root = files("openruntime").joinpath("init_templates")
    found: dict[str, bytes] = {}
    for part in ("common", runtime):
        _walk(root.joinpath(part), "", found)
    return found


def _walk(folder: Traversable, prefix: str, found: dict[str, bytes]) -> None:
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name == "__pycache__" or item.name.endswith(".pyc"):
            continue
        name = RENAMED.get(item.name, item.name)
        if item.is_dir():
            _walk(item, f"{prefix}{name}/", found)
        else:
            found[prefix + name] = item.read_bytes()


def cmd_init(args: argparse.Namespace) -> int:
    runtime = args.runtime
    if runtime not in RUNTIMES:
        return _fail(f"unknown runtime {runtime!r} (choose from: {', '.join(RUNTIMES)})")
    target: Path = args.dir
    if target.exists() and not target.is_dir():
        return _fail(f"{target} exists and is not a folder")
    content = template_files(runtime)
    present = [name for name in sorted(content) if _exists(target / name)]
    for name in KEEP_IF_PRESENT.intersection(present):  # a project's own .gitignore stays
        del content[name]
        present.remove(name)
    if present and not args.force:
        more = f" (and {len(present) - 1} more)" if len(present) > 1 else ""
        return _fail(f"{target / present[0]} already exists{more}; nothing written (--force overwrites)")
    for name, data in content.items():
        path = target / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():  # --force: replace the link, never write through it
                path.unlink()
            path.write_bytes(data)
        except OSError as exc:
            return _fail(f"cannot write {path}: {exc.strerror or exc}")
    _report(target, runtime, sorted(content))
    return 0


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _report(target: Path, runtime: str, names: list[str]) -> None:
    where = "this folder" if target == Path(".") else str(target)
    print(f"A {runtime} function in {where}: {', '.join(names)}")
    print("\nRun it on the local emulator:")
    if target != Path("."):
        import shlex

        print(f"  cd {shlex.quote(str(target))}")
    print("  openruntime invoke --pipeline pipeline.yml --event events/http-api.json")
    interpreter = " --interpreter 3.12" if runtime == "node" else ""
    print("\nDeploy it with AWS SAM (README.md says more):")
    if runtime == "node":  # the interpreter layer's CPython is downloaded with pbs-installer
        print("  pip install 'openruntime[interpreter]'   # once, for the interpreter layer")
    print(f"  openruntime layer build --out layers{interpreter}")
    print("  sam build && sam deploy --guided")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `init` to the main CLI's sub-commands."""
    init = subparsers.add_parser(
        "init",
        help="scaffold a function project: pipeline, handler, events, SAM template",
        description="Write a function project that runs at once: pipeline.yml (a bundled runtime "
        "and the built-in log and http middlewares), a handler, real AWS sample events in "
        "events/, a SAM template.yaml wired to the layers `openruntime layer build --out layers` "
        "makes, a Makefile for `sam build`, and a README. Existing files are left alone "
        "unless --force is given.",
    )
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="the project folder, created if needed (default: the current folder)")
    init.add_argument("--runtime", default="python", metavar="NAME",
                      help=f"the handler's language: {' or '.join(RUNTIMES)} (default: python)")
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")
    init.set_defaults(run=cmd_init)
