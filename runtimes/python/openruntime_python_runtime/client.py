"""The Runtime API over one persistent HTTP/1.1 connection (http.client).

Every failure to talk to the Runtime API is a RuntimeAPIError: the Runtime API says
"exit now" with a non-2xx (500 in particular) and awslambdaric exits on any of them,
so the caller logs it and exits; Lambda then restarts the environment.
"""

from __future__ import annotations

import http.client
import sys
from collections.abc import Callable, Iterator

from openruntime_python_runtime import __version__

PREFIX = "/2018-06-01/runtime/"
NEXT_PATH = PREFIX + "invocation/next"
INIT_ERROR_PATH = PREFIX + "init/error"

ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
XRAY_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
INVOCATION_ID_HEADER = "Lambda-Runtime-Invocation-Id"
ERROR_BODY_HEADER = "Lambda-Runtime-Function-Error-Body"  # a streamed response's error, base64 JSON

# awslambdaric drops the X-Ray cause at 1 MiB. Loopback HTTP servers (RIE-like
# emulators, Runtime API proxies) often cap a request's headers far lower, and a
# rejected /error post is fatal, so stay well under any plausible header limit.
MAX_XRAY_CAUSE_BYTES = 32 * 1024

USER_AGENT = "openruntime-python/{}.{}.{}-{}".format(*sys.version_info[:3], __version__)


class RuntimeAPIError(Exception):
    """The Runtime API cannot be reached or refused a request: the runtime must exit."""


class Invocation:
    """One event from GET /next. (A plain class: importing dataclasses costs ~5 ms of cold start.)"""

    __slots__ = (
        "request_id",
        "deadline_ms",
        "invoked_function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "invocation_id",
        "content_type",
        "body",
    )

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        invoked_function_arn: str | None,
        trace_id: str | None,
        client_context: str | None,
        cognito_identity: str | None,
        tenant_id: str | None,
        invocation_id: str | None,
        content_type: str | None,
        body: bytes,
    ) -> None:
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_function_arn
        self.trace_id = trace_id
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.tenant_id = tenant_id
        self.invocation_id = invocation_id
        self.content_type = content_type
        self.body = body


def _header_bytes(value: str) -> bytes:
    # http.client would encode str values as latin-1 and refuse bare CR/LF; send UTF-8
    # (what the C client in awslambdaric sends) with line breaks flattened.
    return value.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")


def _parse_deadline(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0  # like a missing header: no time left


class RuntimeAPIClient:
    def __init__(self, address: str) -> None:
        self.address = address
        # timeout=None: GET /next blocks for as long as the environment is idle (or
        # frozen); a user's socket.setdefaulttimeout() must not change that either.
        self._conn = http.client.HTTPConnection(address, timeout=None)
        self._used = False  # a reused keep-alive connection may have gone stale

    def close(self) -> None:
        self._conn.close()

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str | bytes] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        all_headers: dict[str, str | bytes] = {"User-Agent": USER_AGENT}
        if headers:
            all_headers.update(headers)
        while True:
            reused = self._used
            try:
                self._conn.request(method, path, body, all_headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._conn.close()
                self._used = False
                if reused:
                    continue  # the server dropped an idle connection: one fresh try
                raise RuntimeAPIError(f"{method} {path}: connection to the Runtime API at {self.address} lost: {exc}")
            except ConnectionRefusedError as exc:
                self._conn.close()
                raise RuntimeAPIError(f"cannot connect to the Runtime API at {self.address}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._conn.close()
                raise RuntimeAPIError(f"{method} {path} to the Runtime API at {self.address} failed: {exc!r}") from None
            self._used = True
            return response.status, response.headers, data

    def _expect_2xx(self, what: str, status: int, data: bytes) -> None:
        if not 200 <= status < 300:
            text = data[:1000].decode("utf-8", "replace")
            raise RuntimeAPIError(f"Request to Lambda Runtime '{what}' endpoint failed. Reason: '{status}'. Response body: '{text}'")

    def next_invocation(self) -> Invocation:
        status, headers, body = self._request("GET", NEXT_PATH)
        self._expect_2xx("invocation/next", status, body)
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        if not request_id:
            raise RuntimeAPIError("GET invocation/next: the response has no Lambda-Runtime-Aws-Request-Id header")
        return Invocation(
            request_id=request_id,
            deadline_ms=_parse_deadline(headers.get("Lambda-Runtime-Deadline-Ms")),
            invoked_function_arn=headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            trace_id=headers.get("Lambda-Runtime-Trace-Id") or None,
            client_context=headers.get("Lambda-Runtime-Client-Context") or None,
            cognito_identity=headers.get("Lambda-Runtime-Cognito-Identity") or None,
            tenant_id=headers.get("Lambda-Runtime-Aws-Tenant-Id") or None,
            invocation_id=headers.get(INVOCATION_ID_HEADER) or None,
            content_type=headers.get("Content-Type") or None,
            body=body,
        )

    def post_response(self, request_id: str, body: bytes, content_type: str, invocation_id: str | None) -> None:
        headers: dict[str, str | bytes] = {"Content-Type": content_type}
        if invocation_id is not None:
            headers[INVOCATION_ID_HEADER] = invocation_id
        path = f"{PREFIX}invocation/{request_id}/response"
        status, _, data = self._request("POST", path, body, headers)
        self._expect_2xx(f"invocation/{request_id}/response", status, data)

    def post_stream(
        self, request_id: str, chunks: Iterator[bytes], content_type: str, invocation_id: str | None,
        error_after: Callable[[BaseException], tuple[str, bytes]],
    ) -> None:
        """A streamed response: chunked, each chunk sent as it comes; an exception raised by
        `chunks` ends the stream with `error_after(exc)` (type, JSON body) in the trailers."""
        import base64

        path = f"{PREFIX}invocation/{request_id}/response"
        conn = self._conn
        try:
            conn.putrequest("POST", path, skip_accept_encoding=True)
            conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Content-Type", content_type)
            conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.putheader("Trailer", f"{ERROR_TYPE_HEADER}, {ERROR_BODY_HEADER}")
            if invocation_id is not None:
                conn.putheader(INVOCATION_ID_HEADER, invocation_id)
            conn.endheaders()
            trailers = b""
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - the handler's failure, told in the trailers
                    error_type, body = error_after(exc)
                    trailers = (ERROR_TYPE_HEADER.encode() + b": " + _header_bytes(error_type) + b"\r\n"
                                + ERROR_BODY_HEADER.encode() + b": " + base64.b64encode(body) + b"\r\n")
                    break
                if chunk:  # a failure to send is the connection's, not the handler's: below
                    conn.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n" + trailers + b"\r\n")
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._used = False
            raise RuntimeAPIError(f"POST {path} (streaming) to the Runtime API at {self.address} failed: {exc!r}") from None
        self._used = True
        self._expect_2xx(f"invocation/{request_id}/response", response.status, data)

    def post_error(
        self,
        request_id: str,
        body: bytes,
        error_type: str,
        xray_cause: str | None,
        invocation_id: str | None,
    ) -> None:
        headers: dict[str, str | bytes] = {
            "Content-Type": "application/json",
            # awslambdaric leaves this out on invoke errors; Lambda uses it for its own
            # error type (metrics, telemetry), so we send it. The body is unchanged.
            ERROR_TYPE_HEADER: _header_bytes(error_type),
        }
        if xray_cause is not None:
            cause = _header_bytes(xray_cause)
            if len(cause) < MAX_XRAY_CAUSE_BYTES:
                headers[XRAY_CAUSE_HEADER] = cause
        if invocation_id is not None:
            headers[INVOCATION_ID_HEADER] = invocation_id
        path = f"{PREFIX}invocation/{request_id}/error"
        status, _, data = self._request("POST", path, body, headers)
        self._expect_2xx(f"invocation/{request_id}/error", status, data)

    def post_init_error(self, body: bytes, error_type: str) -> None:
        headers: dict[str, str | bytes] = {
            "Content-Type": "application/json",
            ERROR_TYPE_HEADER: _header_bytes(error_type),
        }
        status, _, data = self._request("POST", INIT_ERROR_PATH, body, headers)
        self._expect_2xx("init/error", status, data)
