"""HTTP/1.1 message heads as the Runtime API's client and server read them: fast.

A head is read from a buffered reader in one piece when it is there whole (the usual
case: a Runtime API message is one small segment on loopback), split once and decoded
once; otherwise line by line. Both ways give the same lines, the same limits and the
same errors, so the fast way is only a shortcut: a head with bare LF line ends, or cut
across reads, takes the line-by-line way.
"""

from __future__ import annotations

from openruntime.errors import MalformedRequest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import BinaryIO

# Lambda accepts about 1 MiB of headers; awslambdaric sends X-Ray causes of 100 KB and
# more on deep stack traces, and dies if such a post is refused.
MAX_HEADER_BYTES = 1024 * 1024
MAX_HEADER_COUNT = 200


def read_head(reader: BinaryIO) -> tuple[str, list[tuple[str, str]]] | None:
    """(start line, headers) of the next message; None at a clean end of stream.
    MalformedRequest when it breaks the limits or the syntax."""
    buffered = reader.peek(1)  # type: ignore[attr-defined]  # io.BufferedReader's: what is buffered, or one read
    if not buffered:
        return None
    end = buffered.find(b"\r\n\r\n")
    if end > 0 and buffered[0] not in b"\r\n":
        head = buffered[:end]
        if head.count(b"\n") == head.count(b"\r\n"):  # CRLF throughout: no bare LF to split on
            reader.read(end + 4)
            lines = head.decode("latin-1").split("\r\n")
            if len(lines) > MAX_HEADER_COUNT + 1:
                raise MalformedRequest("headers truncated or too large")
            return lines[0], [_field(line) for line in lines[1:]]
    return _read_head_by_line(reader)


def read_fields(reader: BinaryIO) -> list[tuple[str, str]]:
    """Header (or trailer) fields up to the empty line, line by line."""
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        line = reader.readline(MAX_HEADER_BYTES + 1)
        total += len(line)
        if not line or total > MAX_HEADER_BYTES:
            raise MalformedRequest("headers truncated or too large")
        if line in (b"\r\n", b"\n"):
            return headers
        if len(headers) >= MAX_HEADER_COUNT:
            raise MalformedRequest("headers truncated or too large")
        headers.append(_field(line.decode("latin-1").rstrip("\r\n")))


def _read_head_by_line(reader: BinaryIO) -> tuple[str, list[tuple[str, str]]] | None:
    line = reader.readline(MAX_HEADER_BYTES + 1)
    while line in (b"\r\n", b"\n"):  # tolerated: stray CRLF between messages
        line = reader.readline(MAX_HEADER_BYTES + 1)
    if not line:
        return None
    if len(line) > MAX_HEADER_BYTES or not line.endswith(b"\n"):
        raise MalformedRequest("start line too long or truncated")
    return line.decode("latin-1").rstrip("\r\n"), read_fields(reader)


def _field(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name or name != name.strip():
        raise MalformedRequest(f"bad header line {line[:100]!r}")
    return name, value.strip()
