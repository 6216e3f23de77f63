"""Turn a handler string (`module.function`, `dir/module.function`) into the function.

Failures raise FaultError with awslambdaric's errorTypes and messages; any other
exception raised while the user's module runs propagates unchanged (its class name
becomes the errorType).
"""

from __future__ import annotations

import importlib
import sys

from openruntime_python_runtime.errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    FaultError,
)

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[Any, Any], Any]


def load_handler(handler: str) -> Handler:
    try:
        # The tuple unpacking is deliberate: its ValueError text is part of the message.
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from None

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {modname} as a handler module",
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise FaultError(IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s' % (exc.filename, exc.lineno, exc.text)]
        raise FaultError(
            USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {exc}", trace
        ) from None

    try:
        return getattr(module, fname)  # type: ignore[no-any-return]
    except AttributeError:
        raise FaultError(HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'") from None
