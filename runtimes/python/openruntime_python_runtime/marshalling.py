"""Events in, results out: awslambdaric's LambdaMarshaller rules on the stdlib json module.

awslambdaric uses simplejson; the rules that show in payloads are reproduced here:
- an event is parsed only when its Content-Type is exactly `application/json`, else the
  handler gets the raw bytes; NaN/Infinity in an event are rejected, a UTF-8 BOM is not;
- a `bytes` result is sent as is (`application/unknown`), anything else as JSON;
- `Decimal` is written with its exact digits (a NaN Decimal as NaN), `bytes` inside the
  result are decoded as UTF-8, dict keys may be bytes;
- `ensure_ascii` is off only for the python3.12+ execution environments.
"""

from __future__ import annotations

import json
import os
import re
import sys

from openruntime_python_runtime.errors import MARSHAL_ERROR, UNMARSHAL_ERROR, FaultError

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JSON_CONTENT_TYPE = "application/json"
BYTES_CONTENT_TYPE = "application/unknown"

# awslambdaric writes non-ASCII characters as-is only in these managed environments.
_UNESCAPED_ENVS = frozenset(
    {
        "AWS_Lambda_python3.12",
        "AWS_Lambda_python3.13",
        "AWS_Lambda_python3.14",
        "AWS_Lambda_python3.15",
    }
)


_BAD_KEY = "keys must be str, int, float, bool or None, not "


def ensure_ascii_for_env(execution_env: str | None) -> bool:
    return execution_env not in _UNESCAPED_ENVS


class JSONEncoder:
    """Encodes results and error bodies the way awslambdaric's simplejson Encoder does."""

    def __init__(self, ensure_ascii: bool | None = None) -> None:
        if ensure_ascii is None:
            ensure_ascii = ensure_ascii_for_env(os.environ.get("AWS_EXECUTION_ENV"))
        self.ensure_ascii = ensure_ascii

    def encode(self, obj: Any) -> str:
        try:
            return self._encode(obj)
        except TypeError as exc:
            message = str(exc)
            if not message.startswith(_BAD_KEY):
                raise
            if message.endswith("not bytes"):
                # The C encoder refuses bytes keys, simplejson decodes them: retry on a
                # copy with decoded keys (only then, so the common case pays nothing).
                return self._encode(_decode_bytes_keys(obj))
            # Same message as simplejson: the bare class name ("Decimal", not "decimal.Decimal").
            raise TypeError(_BAD_KEY + message[len(_BAD_KEY) :].rsplit(".", 1)[-1]) from None

    def _encode(self, obj: Any) -> str:
        # The stdlib C encoder cannot emit raw text, so a Decimal goes out as a unique
        # placeholder string that is swapped for its digits afterwards.
        raw: list[str] = []
        token = ""

        def default(o: Any) -> Any:
            nonlocal token
            # No Decimal can exist unless `decimal` was imported: don't import it ourselves.
            decimal = sys.modules.get("decimal")
            if decimal is not None and isinstance(o, decimal.Decimal):
                if o.is_nan():
                    return float("nan")
                if not token:
                    token = os.urandom(8).hex()
                raw.append(str(o))
                return f"\x00{token}:{len(raw) - 1}\x00"
            if isinstance(o, bytes):
                return o.decode("utf-8")
            raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")

        text = json.JSONEncoder(ensure_ascii=self.ensure_ascii, allow_nan=True, default=default).encode(obj)
        if raw:
            # The NULs are always escaped, so user strings cannot produce this sequence
            # unless they contain the random token.
            placeholder = re.compile('"\\\\u0000' + token + ':(\\d+)\\\\u0000"')
            text = placeholder.sub(lambda m: raw[int(m.group(1))], text)
        return text


def _decode_bytes_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            (k.decode("utf-8") if isinstance(k, bytes) else k): _decode_bytes_keys(v) for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_decode_bytes_keys(v) for v in obj]
    if type(obj) is tuple:
        return tuple(_decode_bytes_keys(v) for v in obj)
    return obj


class _NonStandardConstant(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


# simplejson (as awslambdaric calls it) does not accept NaN / Infinity / -Infinity.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_STRING_OR_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


def _first_constant_position(text: str) -> int:
    for match in _STRING_OR_CONSTANT.finditer(text):
        if match.group(1):
            return match.start(1)
    return 0


class Marshaller:
    def __init__(self, ensure_ascii: bool | None = None) -> None:
        self.encoder = JSONEncoder(ensure_ascii)

    def unmarshal_request(self, body: bytes, content_type: str | None) -> Any:
        if content_type != JSON_CONTENT_TYPE:
            return body
        text = ""
        try:
            text = body.decode("utf-8")
            if text.startswith("\ufeff"):
                text = text[1:]
            return _DECODER.decode(text)
        except _NonStandardConstant:
            error: Exception = json.JSONDecodeError("Expecting value", text, _first_constant_position(text))
        except Exception as exc:
            error = exc
        raise FaultError(UNMARSHAL_ERROR, f"Unable to unmarshal input: {error}")

    def marshal_response(self, response: Any) -> tuple[bytes, str]:
        if isinstance(response, bytes):
            return response, BYTES_CONTENT_TYPE
        try:
            # Encoding to bytes here (awslambdaric does it later, outside its error
            # handling) turns a lone surrogate into a MarshalError instead of a crash.
            return self.encoder.encode(response).encode("utf-8"), JSON_CONTENT_TYPE
        except Exception as exc:
            raise FaultError(MARSHAL_ERROR, f"Unable to marshal response: {exc}") from None
