"""libc's functions for the few calls `os` lacks (prctl, syscall), without importing ctypes.

Built from `_ctypes`, the extension ctypes wraps: importing ctypes itself costs ~2 ms of
the cold start (it defines every C type); these calls need a C long and a function type.
Where `_ctypes` is not as expected, ctypes itself; where neither loads, None.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_functions: dict[str, Any] = {}
_kit: list[Any] = []  # [the C long type, name → libc function], once loaded


def function(name: str) -> Any | None:
    """libc's `name`, returning a C long, errno kept for `get_errno`; None where it cannot
    be loaded. Python ints are passed as C ints: wrap in `long()` what must be a long."""
    if name not in _functions:
        try:
            _functions[name] = _load()[1](name)
        except (ImportError, OSError, AttributeError, TypeError):
            _functions[name] = None
    return _functions[name]


def long(value: int) -> Any:
    """`value` as a C long: what a variadic function such as syscall() reads."""
    return _load()[0](value)


def get_errno() -> int:
    """errno as the last call through `function` left it."""
    import _ctypes

    return int(_ctypes.get_errno())


def _load() -> list[Any]:
    if not _kit:
        make: Callable[[str], Any]
        try:
            import _ctypes

            class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_long
                _type_ = "l"

            class _Function(_ctypes.CFuncPtr):  # ctypes.CDLL(None, use_errno=True)._FuncPtr
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Long

            class _Process:  # what CFuncPtr((name, library)) reads: the dlopen handle
                _handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

            long_type: Any = _Long
            make = lambda name: _Function((name, _Process))  # type: ignore[arg-type]  # noqa: E731
        except (AttributeError, TypeError):
            import ctypes

            library = ctypes.CDLL(None, use_errno=True)
            long_type = ctypes.c_long

            def make(name: str) -> Any:
                loaded = getattr(library, name)
                loaded.restype = ctypes.c_long
                return loaded

        _kit.extend((long_type, make))
    return _kit
