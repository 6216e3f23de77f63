"""Several functions behind one Invoke API, by name: `serve --function NAME=PIPELINE …`.

Each function is a sandbox (or a pool of them) of its own; the Invoke API routes by the
function name in the path, as Lambda does — a name, a full ARN, or a partial one
(`123456789012:function:NAME`), a `:qualifier` suffix aside. A name no function has is
Lambda's 404 ResourceNotFoundException.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote

from openruntime.runtime_api.http import LoopbackHTTPServer


def function_name(name_or_arn: str) -> str:
    """`NAME`, from NAME, NAME:QUALIFIER, an ARN or a partial ARN."""
    return split_function_name(name_or_arn)[0]


def split_function_name(name_or_arn: str) -> tuple[str, str | None]:
    """(NAME, QUALIFIER or None) from NAME, NAME:QUALIFIER, or a full or partial ARN
    (`[arn:aws:lambda:REGION:]ACCOUNT:function:NAME[:QUALIFIER]`), as Lambda reads FunctionName."""
    text = unquote(name_or_arn)
    if ":function:" in text:
        text = text.split(":function:", 1)[1]
    name, _, qualifier = text.partition(":")
    return name, qualifier or None


class Functions:
    """Named targets (Emulator or SandboxPool), each served under its name."""

    def __init__(self, targets: dict[str, Any], fronted: str | None = None) -> None:
        self.targets = targets
        self.fronted = fronted  # the one `--http` fronts without routes; else the first
        self._stack = ExitStack()
        self._invoke_server: LoopbackHTTPServer | None = None

    def __enter__(self) -> Functions:
        for target in self.targets.values():
            self._stack.enter_context(target)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, name_or_arn: str) -> Any | None:
        return self.targets.get(function_name(name_or_arn))

    @property
    def runtime_api(self) -> str:
        return ", ".join(f"{name}: {target.runtime_api}" for name, target in self.targets.items())

    def restart(self) -> None:
        for target in self.targets.values():
            target.restart()

    def first(self) -> Any:
        """What `--http` fronts when it has no routes: the function with a function URL, else
        the first."""
        return self.targets[self.fronted] if self.fronted in self.targets else next(iter(self.targets.values()))

    def serve_invoke_api(self, port: int = 8080) -> LoopbackHTTPServer:
        from openruntime.emulator.invoke_api import invoke_api_server

        self._invoke_server = invoke_api_server(self, port).start()  # type: ignore[arg-type]
        return self._invoke_server

    def close(self) -> None:
        if self._invoke_server is not None:
            self._invoke_server.close()
        self._stack.close()
