"""Response streaming for Python handlers (Lambda's managed Python runtime has none).

A handler that is a generator (or async generator) function streams its response: each
value it yields goes to the caller as it is produced — `bytes` as they are, `str` as
UTF-8, anything else as JSON — through Lambda's streaming mode (a chunked POST /response
with `Lambda-Runtime-Function-Response-Mode: streaming`; InvokeWithResponseStream and
function URLs in RESPONSE_STREAM mode deliver it as it comes). An exception after the
first chunk ends the stream with the error in the `Lambda-Runtime-Function-Error-Type` /
`-Error-Body` trailers; one before the first chunk is an ordinary invocation error.

    from openruntime_python_runtime.streaming import streaming

    @streaming(content_type="text/plain")     # optional: the default is application/octet-stream
    def handler(event, context):
        for word in ("one", "two", "three"):
            yield word + "\\n"
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and inspect are not imported at run time: the cold start pays for them
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

_CO_GENERATOR = 0x20  # inspect.CO_GENERATOR
_CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR
CONTENT_TYPE_ATTRIBUTE = "response_content_type"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def streaming(content_type: str = DEFAULT_CONTENT_TYPE) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Name the content type of a generator handler's streamed response."""

    def mark(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not is_streaming(handler):
            raise TypeError(f"@streaming: {getattr(handler, '__name__', handler)!r} is not a generator function "
                            "(a streaming handler yields its response's chunks)")
        setattr(handler, CONTENT_TYPE_ATTRIBUTE, content_type)
        return handler

    return mark


def is_streaming(handler: Callable[..., Any]) -> bool:
    """A generator or async generator function (a plain function's code flags say so)."""
    code = getattr(handler, "__code__", None)
    return code is not None and bool(code.co_flags & (_CO_GENERATOR | _CO_ASYNC_GENERATOR))


def content_type_of(handler: Callable[..., Any]) -> str:
    value = getattr(handler, CONTENT_TYPE_ATTRIBUTE, None)
    return value if isinstance(value, str) and value else DEFAULT_CONTENT_TYPE


def chunks(result: Any, encode_json: Callable[[Any], str]) -> Iterator[bytes]:
    """The handler's yields as bytes; an async generator is driven on an event loop of its own."""
    if hasattr(result, "__anext__"):  # an async generator
        import asyncio

        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    value = loop.run_until_complete(result.__anext__())
                except StopAsyncIteration:
                    return
                yield _as_bytes(value, encode_json)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
    for value in result:
        yield _as_bytes(value, encode_json)


def _as_bytes(value: Any, encode_json: Callable[[Any], str]) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return encode_json(value).encode("utf-8", "surrogatepass")
