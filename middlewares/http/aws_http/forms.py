"""Form bodies → JSON for the handler: `application/x-www-form-urlencoded` and
`multipart/form-data` as {name: [values]} (lists always, as `query` is, so a field's type
never depends on how often the client sent it). Other bodies: None."""

from __future__ import annotations

import base64
import codecs
from typing import Any
from urllib.parse import parse_qsl

from .errors import FormError
from .multipart import parse_multipart
from .params import parse_header
from .settings import FormLimits

URLENCODED = "application/x-www-form-urlencoded"
# The encodings of the WHATWG Encoding Standard that Python has, by Python's codec name:
# what a browser may label a form with. Python's other codecs (hex, rot13, zlib,
# unicode_escape, punycode, undefined…) are not for a client to pick.
WEB_CHARSETS = frozenset({
    "ascii", "big5", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp866", "cp874", "euc_jp", "euc_kr", "gb18030", "gbk", "iso2022_jp", "iso8859-1", "iso8859-2", "iso8859-3",
    "iso8859-4", "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13", "iso8859-14",
    "iso8859-15", "iso8859-16", "koi8-r", "koi8-u", "mac-cyrillic", "mac-roman", "shift_jis", "utf-16-be",
    "utf-16-le", "utf-8",
})
MULTIPART = "multipart/form-data"


def _raw(request: dict[str, Any]) -> bytes:
    body: str = request["body"]
    # The normalized body is text, or base64 (already checked) for bytes that are not UTF-8.
    return base64.b64decode(body) if request["isBase64Encoded"] else body.encode("utf-8")


def _urlencoded(request: dict[str, Any], charset: str, limits: FormLimits) -> dict[str, list[Any]]:
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = ""
    if codec not in WEB_CHARSETS:  # not hex, rot13, zlib or unicode_escape: a client picks it
        raise FormError(415, f"charset {charset!r} of the form body is not supported")
    if codec == "utf-8" and not request["isBase64Encoded"]:
        text = request["body"]
    else:
        try:
            text = _raw(request).decode(codec)
        except UnicodeError as exc:
            raise FormError(400, f"form body is not valid {charset} ({exc.reason} at byte {exc.start})") from None
    form: dict[str, list[Any]] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=codec, errors="strict",
                          max_num_fields=limits.max_fields)
    except UnicodeDecodeError as exc:
        raise FormError(400, f"form body: a percent-encoded name or value is not valid {charset} "
                             f"({exc.reason})") from None
    except ValueError:  # parse_qsl's only other complaint: too many fields
        raise FormError(413, f"form body has more than {limits.max_fields} fields (HTTP_FORM_MAX_FIELDS)") from None
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def parse_form(request: dict[str, Any], limits: FormLimits) -> dict[str, list[Any]] | None:
    """The form fields of a normalized request, None when its body is not a form.
    Raises FormError for a form body that cannot be read."""
    content_type = request["headers"].get("content-type")
    if not content_type:
        return None
    try:
        kind, params = parse_header(content_type[0])
    except ValueError as exc:
        kind = parse_header(content_type[0].partition(";")[0])[0]
        if kind in (URLENCODED, MULTIPART):
            raise FormError(400, f"Content-Type: {exc}") from None
        return None
    if kind == URLENCODED:
        return _urlencoded(request, params.get("charset") or "utf-8", limits)
    if kind == MULTIPART:
        boundary = params.get("boundary")
        if not boundary:
            raise FormError(400, "Content-Type multipart/form-data has no boundary parameter")
        return parse_multipart(_raw(request), boundary, limits)
    return None
