"""`openruntime layer …` commands: build, inspect, pack.

`add_layer_commands(subparsers)` plugs them into the main CLI; each sub-command sets
`run(args) -> int` (the exit status), like cli.py's own commands. The layers package is
imported only when a layer command runs: `openruntime bootstrap` must not pay for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("dist") / "layers"
# Lambda's managed Python runtimes and architectures; the defaults match deploy/ and `init`.
PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")
DEFAULT_PYTHON = "3.12"
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_ARCH = "x86_64"


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message}, indent=2))
    else:
        print(f"openruntime layer: error: {message}", file=sys.stderr)
    return 1


def cmd_build(args: argparse.Namespace) -> int:
    from openruntime.layers import LayerError, build_layers
    from openruntime.layers.limits import human_size
    from openruntime.layers.target import Target

    if args.interpreter_archive is not None and args.interpreter is None:
        return _fail(args, "--interpreter-archive needs --interpreter X.Y (the version the archive holds)")
    if args.python and args.interpreter and args.python != args.interpreter:
        return _fail(args, f"--python {args.python} and --interpreter {args.interpreter}: the function runs "
                     "on the interpreter layer's Python, so the layers are built for it; give one version")
    python = args.python or args.interpreter or DEFAULT_PYTHON
    try:
        report = build_layers(
            args.out,
            pipeline=args.pipeline,
            source_root=args.source,
            runtimes=args.runtime or None,
            target=Target(python, args.arch),
            interpreter=args.interpreter,
            interpreter_archive=args.interpreter_archive,
        )
    except LayerError as exc:
        return _fail(args, str(exc))
    if args.json:
        data: dict[str, Any] = {
            "ok": True,
            "target": {"python": python, "arch": args.arch},
            "layers": [
                {"kind": a.kind, "name": a.name, "path": str(a.path), "entries": a.entries,
                 "zipped_bytes": a.zipped_bytes, "unzipped_bytes": a.unzipped_bytes}
                for a in report.layers
            ],
            "vendored": report.distributions,
            "notes": report.notes,
            "warnings": report.warnings,
        }
        print(json.dumps(data, indent=2))
        return 0
    for a in report.layers:
        print(f"{a.path}  {a.entries} entries, {human_size(a.zipped_bytes)} zipped, "
              f"{human_size(a.unzipped_bytes)} unzipped")
    if report.distributions:
        print("vendored under python/: " + ", ".join(report.distributions))
    for note in report.notes:
        print(f"note: {note}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from openruntime.layers import LayerError, format_report, inspect_stack

    try:
        report = inspect_stack(args.zips)
    except LayerError as exc:
        return _fail(args, str(exc))
    print(report.to_json() if args.json else format_report(report))
    return 0 if report.ok else 1


def cmd_pack(args: argparse.Namespace) -> int:
    from openruntime.layers import LayerError, pack_directory

    try:
        report = pack_directory(args.dir, args.out, include_node_modules=args.include_node_modules)
    except LayerError as exc:
        return _fail(args, str(exc))
    for a in report.layers:
        print(f"{a.path}  {a.entries} entries, {a.zipped_bytes} bytes zipped")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def add_layer_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `layer build|inspect|pack` to the main CLI's sub-commands."""
    layer = subparsers.add_parser("layer", help="build and inspect Lambda layers",
                                  description="Build deterministic layer zips and check layer stacks.")
    sub = layer.add_subparsers(dest="layer_command", metavar="COMMAND", required=True)

    build = sub.add_parser("build", help="build the orchestrator, middlewares and runtime layers")
    build.add_argument("--pipeline", type=Path, metavar="FILE",
                       help="compile this pipeline file into the orchestrator layer as pipeline.json")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help=f"output directory (default: {DEFAULT_OUT})")
    build.add_argument("--source", type=Path, metavar="DIR",
                       help="a tree holding your own middlewares/ and runtimes/ (default: the bundled ones)")
    build.add_argument("--runtime", action="append", metavar="NAME",
                       help="build only this bundled runtime's layer (repeatable; default: all)")
    build.add_argument("--python", choices=PYTHON_VERSIONS, metavar="X.Y",
                       help="the function's Python (python3.x runtime, or the interpreter layer's): "
                       "compiled dependencies and bytecode are built for it (default: --interpreter's "
                       f"version, else {DEFAULT_PYTHON})")
    build.add_argument("--arch", choices=ARCHITECTURES, default=DEFAULT_ARCH,
                       help=f"the function's architecture (default: {DEFAULT_ARCH})")
    build.add_argument("--interpreter", choices=PYTHON_VERSIONS, metavar="X.Y",
                       help="also build openruntime-interpreter.zip: a relocatable CPython X.Y for --arch "
                       "(python-build-standalone, via pip install pbs-installer), for Node.js, Java and "
                       "provided.al2023 functions")
    build.add_argument("--interpreter-archive", type=Path, metavar="FILE",
                       help="build the interpreter layer offline from this python-build-standalone "
                       "install_only archive (.tar.gz, .tar.zst with zstandard) or unpacked folder")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(run=cmd_build)

    inspect = sub.add_parser("inspect", help="simulate a function's layer stack and report conflicts")
    inspect.add_argument("zips", nargs="+", type=Path, metavar="ZIP",
                         help="layer zips in the order the function lists them")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(run=cmd_inspect)

    pack = sub.add_parser("pack", help="zip a directory that mirrors /opt, deterministically")
    pack.add_argument("dir", type=Path, metavar="DIR", help="e.g. a tree holding middlewares/<name>/<name>")
    pack.add_argument("--out", "-o", type=Path, required=True, metavar="ZIP")
    pack.add_argument("--include-node-modules", action="store_true",
                      help="keep node_modules directories (left out by default)")
    pack.set_defaults(run=cmd_pack)
    return layer


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m openruntime.cli.layer layer …`), for tests and scripts."""
    parser = argparse.ArgumentParser(prog="openruntime")
    add_layer_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
