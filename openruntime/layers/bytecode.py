"""Bytecode for a layer's Python files, compiled by the target's Python.

Lambda's /opt is read-only, so a module without a usable `.pyc` is compiled from source
at every cold start. A `.pyc` is only used by the Python version that wrote it (its cache
tag, e.g. cpython-312), so the layer ships bytecode only when the target's version is on
this machine: this interpreter, or `python3.X` on PATH. Unchecked-hash `.pyc` (PEP 552):
the interpreter uses them without comparing them to the source, which /opt cannot change
anyway (and the zip's fixed timestamps would defeat a timestamp check).
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import subprocess
import sys
from collections.abc import Sequence

from openruntime.layers.errors import LayerError
from openruntime.layers.target import Target

# What a cold start pays without bytecode, measured on the development machine (2 cores,
# Python 3.11) from an extracted layer: docs/benchmarks.md, "Bytecode".
COMPILE_COST = "about 28 ms for the orchestrator, 10 ms more for the bundled Python runtime"

# Run in a fresh interpreter with a fixed hash seed: frozenset constants are marshalled in
# hash order, and marshal's back-references follow reference counts, so only a process in
# the same state for every build gives byte-identical .pyc files (and reproducible zips).
_COMPILER = r"""
import os, pickle, py_compile, sys, tempfile
items = pickle.load(sys.stdin.buffer)
done = []
with tempfile.TemporaryDirectory() as tmp:
    source, compiled = os.path.join(tmp, "m.py"), os.path.join(tmp, "m.pyc")
    for name, data in items:
        with open(source, "wb") as f:
            f.write(data)
        try:
            py_compile.compile(source, cfile=compiled, dfile="/opt/" + name, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except py_compile.PyCompileError:
            continue  # not valid for this Python: left to compile (and fail) where it runs
        with open(compiled, "rb") as f:
            done.append((name, f.read()))
pickle.dump((sys.implementation.cache_tag, done), sys.stdout.buffer)
"""
_compiled_cache: dict[tuple[str, bytes], list[tuple[str, bytes]]] = {}


def compiler_for(target: Target) -> str | None:
    """An interpreter of the target's version: this one, or a `python3.X` on PATH that
    really is that version (a pyenv or asdf shim may run another one, or none)."""
    if sys.implementation.cache_tag == target.cache_tag:
        return sys.executable
    found = shutil.which(f"python{target.python}")
    if found is None:
        return None
    try:
        probe = subprocess.run([found, "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
                               capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 and probe.stdout.strip() == target.cache_tag else None


def compile_sources(sources: Sequence[tuple[str, bytes]], python: str, target: Target) -> list[tuple[str, bytes]]:
    """(name, .pyc bytes) for each source `python` compiles; it must be the target's version."""
    key = (python, hashlib.sha256(pickle.dumps(list(sources))).digest())
    if key not in _compiled_cache:
        try:
            done = subprocess.run([python, "-S", "-c", _COMPILER], input=pickle.dumps(list(sources)),
                                  capture_output=True, env={"PYTHONHASHSEED": "0"}, check=False)
        except OSError as exc:
            raise LayerError(f"compiling the layer's Python files with {python} failed: {exc}") from None
        if done.returncode != 0:
            raise LayerError(f"compiling the layer's Python files with {python} failed: "
                             f"{done.stderr.decode(errors='replace')[-2000:]}")
        tag, compiled = pickle.loads(done.stdout)
        if tag != target.cache_tag:
            raise LayerError(f"{python} compiles for {tag}, not {target.cache_tag} ({target})")
        _compiled_cache[key] = compiled
    return _compiled_cache[key]
