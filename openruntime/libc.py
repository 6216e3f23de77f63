"""libc's functions for the few calls `os` lacks (prctl, syscall), without importing ctypes.

Built from `_ctypes`, the extension ctypes wraps: importing ctypes itself costs ~2 ms of
the cold start (it defines every C type); these calls need C ints, longs and function types.
Where `_ctypes` is not as expected, ctypes itself; where neither loads, None.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_functions: dict[str, Any] = {}
_kit: list[Any] = []  # [the C long type, (name, returns a long) → libc function], once loaded


def function(name: str, returns: str = "int") -> Any | None:
    """libc's `name`, errno kept for `get_errno`; None where it cannot be loaded. It
    returns a C int, or a C long (`returns="long"`: syscall's). Python ints are passed as
    C ints: wrap in `long()` what must be a long."""
    key = f"{name}:{returns}"
    if key not in _functions:
        try:
            _functions[key] = _load()[1](name, returns == "long")
        except (ImportError, OSError, AttributeError, TypeError):
            _functions[key] = None
    return _functions[key]


def long(value: int) -> Any:
    """`value` as a C long: what a variadic function such as syscall() reads."""
    return _load()[0](value)


def get_errno() -> int:
    """errno as the last call through `function` left it."""
    import _ctypes

    return int(_ctypes.get_errno())


def _load() -> list[Any]:
    if not _kit:
        make: Callable[[str, bool], Any]
        try:
            import _ctypes

            class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
                _type_ = "i"

            class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_long
                _type_ = "l"

            class _ReturnsInt(_ctypes.CFuncPtr):  # ctypes.CDLL(None, use_errno=True)._FuncPtr
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Int

            class _ReturnsLong(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Long

            class _Process:  # what CFuncPtr((name, library)) reads: the dlopen handle
                _handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

            long_type: Any = _Long

            def make(name: str, returns_long: bool) -> Any:
                return (_ReturnsLong if returns_long else _ReturnsInt)((name, _Process))  # type: ignore[arg-type]
        except (AttributeError, TypeError):
            import ctypes

            library = ctypes.CDLL(None, use_errno=True)
            long_type = ctypes.c_long

            def make(name: str, returns_long: bool) -> Any:
                loaded = getattr(library, name)
                loaded.restype = ctypes.c_long if returns_long else ctypes.c_int
                return loaded

        _kit.extend((long_type, make))
    return _kit
