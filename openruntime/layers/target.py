"""The Lambda a layer is built for: its Python version and architecture.

Compiled dependencies (PyYAML's C extension) come as that target's manylinux wheels, and
bytecode is shipped only when the Python that compiles it is the target's version.
"""

from __future__ import annotations

from dataclasses import dataclass

# Lambda's architecture names, and the manylinux platform tags pip understands for them
# (Amazon Linux 2023 has glibc 2.34; manylinux2014 = glibc 2.17 is what most wheels ship).
_MANYLINUX_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Target:
    """The Lambda a layer is built for: its Python version and architecture."""

    python: str = "3.12"  # "3.12"
    arch: str = "x86_64"  # "x86_64" or "arm64"

    @property
    def machine(self) -> str:
        """The machine name in wheel tags and `uname -m`: x86_64 or aarch64."""
        return _MANYLINUX_MACHINE[self.arch]

    @property
    def cache_tag(self) -> str:
        """`sys.implementation.cache_tag` of the target's CPython, e.g. cpython-312."""
        return "cpython-" + self.python.replace(".", "")

    def platforms(self) -> list[str]:
        """pip `--platform` values, newest glibc first, all runnable on Amazon Linux 2023."""
        m = self.machine
        return [f"manylinux_2_28_{m}", f"manylinux_2_17_{m}", f"manylinux2014_{m}"]

    def __str__(self) -> str:
        return f"Python {self.python} on {self.arch}"
