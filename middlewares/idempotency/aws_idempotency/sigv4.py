"""AWS Signature Version 4 for one JSON-protocol POST, with hmac and hashlib only.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
The request has no query string and the path `/`, which is all DynamoDB's JSON API uses.
"""

from __future__ import annotations

import hashlib
import hmac
import time


class Credentials:
    __slots__ = ("access_key", "secret_key", "session_token")

    def __init__(self, access_key: str, secret_key: str, session_token: str | None = None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token

    def __repr__(self) -> str:  # never the secret in a log line or a traceback
        return f"Credentials(access_key={self.access_key!r}, secret_key=***)"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(headers: dict[str, str], body: bytes, *, host: str, region: str, service: str,
         credentials: Credentials, now: float | None = None) -> dict[str, str]:
    """The headers to send: `headers` plus host, x-amz-date, the session token and the
    Authorization header. Header names are lower case."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    day = stamp[:8]
    signed = {**{k.lower(): v.strip() for k, v in headers.items()}, "host": host, "x-amz-date": stamp}
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical = "\n".join([
        "POST", "/", "",
        "".join(f"{name}:{signed[name]}\n" for name in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{credentials.secret_key}".encode(), day), region), service),
                "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                               f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return signed
