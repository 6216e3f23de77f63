"""`multipart/form-data` (RFC 7578, RFC 2046 §5.1.1) → {name: [values]}.

A small parser over the whole body in memory (Lambda hands it over whole, at most 6 MB):
each part is one slice of it, so memory stays within a small multiple of the body. Text
fields become strings; files (a part with a filename, or bytes that are not UTF-8) become
objects with their filename, content type, size and content, as text when the bytes are
UTF-8, else base64.
"""

from __future__ import annotations

import base64
from typing import Any

from .errors import FormError
from .params import extended_value, parse_header
from .settings import FormLimits

HEADERS_LIMIT = 8192  # bytes of headers per part; browsers send two short lines


def _next_delimiter(data: bytes, needle: bytes, start: int) -> int:
    """Where the next `CRLF--boundary` line starts, or -1. A match followed by anything but
    `--`, white space or CRLF is content that merely begins like the boundary."""
    i = data.find(needle, start)
    while i >= 0:
        after = data[i + len(needle): i + len(needle) + 2]
        if after in (b"--", b"\r\n") or after[:1] in (b" ", b"\t"):
            return i
        i = data.find(needle, i + 1)
    return -1


def _headers(block: bytes, number: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise FormError(400, f"multipart part {number}: header line {line[:60]!r} is not 'Name: value'")
        try:
            text = value.decode("utf-8")  # what browsers send for non-ASCII filenames
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        headers.setdefault(name.strip().decode("latin-1").lower(), text.strip())
    return headers


def _file(content: bytes, filename: str | None, content_type: str) -> dict[str, Any]:
    try:
        text, is_base64 = content.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(content).decode("ascii"), True
    return {"filename": filename, "contentType": content_type, "size": len(content),
            "content": text, "isBase64Encoded": is_base64}


def _part(data: bytes, start: int, end: int, number: int, limits: FormLimits) -> tuple[str, Any]:
    if data.startswith(b"\r\n", start):
        raise FormError(400, f"multipart part {number} has no headers (a Content-Disposition header is required)")
    head_end = data.find(b"\r\n\r\n", start, min(end, start + HEADERS_LIMIT + 4))
    if head_end < 0:
        raise FormError(400, f"multipart part {number}: its headers do not end with an empty line "
                             f"within {HEADERS_LIMIT} bytes")
    headers = _headers(data[start:head_end], number)
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise FormError(400, f"multipart part {number} has no Content-Disposition header")
    try:
        kind, params = parse_header(disposition)
    except ValueError as exc:
        raise FormError(400, f"multipart part {number}: Content-Disposition: {exc}") from None
    if kind != "form-data" or "name" not in params:
        raise FormError(400, f"multipart part {number}: Content-Disposition must be form-data with a name, "
                             f"got {disposition[:80]!r}")
    name = params["name"]
    filename = params.get("filename")
    if "filename*" in params:
        filename = extended_value(params["filename*"]) or filename
    content = data[head_end + 4:end]
    if filename is None:
        try:
            return name, content.decode("utf-8")
        except UnicodeDecodeError:
            pass  # bytes without a filename: kept like a file, with filename null
    if len(content) > limits.max_file_bytes:
        raise FormError(413, f"multipart part {number} ({name!r}) is {len(content)} bytes, over the limit of "
                             f"{limits.max_file_bytes} (HTTP_FORM_MAX_FILE_BYTES)")
    return name, _file(content, filename, headers.get("content-type") or "text/plain")


def parse_multipart(data: bytes, boundary: str, limits: FormLimits) -> dict[str, list[Any]]:
    if not 1 <= len(boundary) <= 70 or not boundary.isascii():
        raise FormError(400, f"multipart boundary must be 1 to 70 ASCII characters, got {boundary[:80]!r}")
    delimiter = b"--" + boundary.encode("ascii")
    needle = b"\r\n" + delimiter
    if data.startswith(delimiter):
        pos = len(delimiter)
    else:
        first = _next_delimiter(data, needle, 0)
        if first < 0:
            raise FormError(400, f"multipart body has no boundary line --{boundary}")
        pos = first + len(needle)
    form: dict[str, list[Any]] = {}
    number = 0
    while True:
        if data.startswith(b"--", pos):
            return form  # the close delimiter; what follows is an epilogue, ignored
        line_end = pos
        while line_end < len(data) and data[line_end] in (0x20, 0x09):
            line_end += 1
        if not data.startswith(b"\r\n", line_end):
            if line_end >= len(data):
                raise FormError(400, f"multipart body ends before its closing boundary --{boundary}--")
            raise FormError(400, f"multipart body: a boundary line --{boundary} does not end in CRLF")
        number += 1
        if number > limits.max_fields:
            raise FormError(413, f"multipart body has more than {limits.max_fields} parts (HTTP_FORM_MAX_FIELDS)")
        end = _next_delimiter(data, needle, line_end + 2)
        if end < 0:
            raise FormError(400, f"multipart body ends before its closing boundary --{boundary}--")
        name, value = _part(data, line_end + 2, end, number, limits)
        form.setdefault(name, []).append(value)
        pos = end + len(needle)
