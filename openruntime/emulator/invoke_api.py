"""Lambda's Invoke API over HTTP, as the SDKs and the AWS CLI call it: the RIE's port 8080.

`POST /2015-03-31/functions/{name}/invocations` (Invoke) and
`POST /2021-11-15/functions/{name}/response-streaming-invocations`
(InvokeWithResponseStream), with Lambda's checks before any code runs (a payload that is
not JSON, one over 6 MB, a bad client context or invocation type: the service's errors,
in X-Amzn-ErrorType, as boto3 raises them), then the sandbox's `invoke`. `Event`
invocations are accepted (202) and run in the background. A streamed answer is
event-stream frames (eventstream.py): `PayloadChunk` as the function writes, then
`InvokeComplete`, which carries an error that came after the first byte.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from urllib.parse import parse_qsl
from typing import TYPE_CHECKING, Any

from openruntime import errors
from openruntime.emulator import eventstream
from openruntime.invocation import JSON
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Protocol

    from openruntime.emulator.sandbox import FunctionSettings, InvokeResult

    class Emulator(Protocol):
        """What the Invoke API needs: one sandbox (sandbox.Emulator) or a pool of them."""

        function: FunctionSettings | None
        max_concurrency: int

        @property
        def invoke(self) -> Callable[..., InvokeResult]: ...

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
STREAMING_INVOKE_PATH = re.compile(r"^/2021-11-15/functions/([^/]+)/response-streaming-invocations$")
EVENT_STREAM = "application/vnd.amazon.eventstream"
# Lambda's words, as a clean-room review observed them (AWS's documentation does not quote them).
CLIENT_CONTEXT_INVALID = "Client context must be a valid Base64-encoded JSON object."


def invoke_api_server(emulator: Emulator, port: int) -> LoopbackHTTPServer:
    return LoopbackHTTPServer(
        lambda request: handle_invoke_api(emulator, request), port=port, max_body=errors.MAX_REQUEST_BYTES,
        name="invoke-api",
    )


def handle_invoke_api(emulator: Emulator, request: Request) -> Response:
    matched = STREAMING_INVOKE_PATH.match(request.path)
    streaming = matched is not None
    matched = matched or INVOKE_PATH.match(request.path)
    if matched is None:  # not "function not found": the SDKs would say the function does not exist
        return service_error(
            404, errors.UNKNOWN_OPERATION,
            f"openruntime's emulator serves Invoke and InvokeWithResponseStream only; no route for "
            f"{request.method} {request.path}",
        )
    if request.method != "POST":
        return _method_not_allowed(request.method)
    find = getattr(emulator, "find", None)
    if find is not None:  # several functions (serve --function): the one the path names
        from openruntime.emulator.functions import function_name
        from openruntime.emulator.sandbox import ACCOUNT_ID

        target = find(matched.group(1))
        if target is None:
            name = function_name(matched.group(1))
            return service_error(404, errors.RESOURCE_NOT_FOUND,
                                 f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{name}")
        emulator = target
    size = request.oversize if request.oversize is not None else len(request.body)
    if (request.header("x-amz-invocation-type") == "Event" and not streaming
            and size > errors.MAX_ASYNC_REQUEST_BYTES):
        # Lambda's words for it, as its SDKs have shown them (with the limit of the day).
        return service_error(
            413, errors.REQUEST_TOO_LARGE_EXCEPTION,
            f"{size} byte payload is too large for the Event invocation type "
            f"(limit {errors.MAX_ASYNC_REQUEST_BYTES} bytes)",
        )
    if request.oversize is not None:
        return service_error(
            413,
            errors.REQUEST_TOO_LARGE_EXCEPTION,
            f"Request must be smaller than {errors.MAX_REQUEST_BYTES} bytes for the "
            "InvokeFunction operation",
        )
    client_context = request.header("x-amz-client-context")
    if client_context is not None:
        client_context = _client_context(client_context)
        if client_context is None:
            return service_error(400, errors.INVALID_REQUEST_CONTENT, CLIENT_CONTEXT_INVALID)
    payload = request.body  # none at all is {} (the sandbox's invoke); any other is parsed before code runs
    if payload:
        try:
            json.loads(request.body)
        except RecursionError:
            pass  # nests deeper than Python's parser goes: not shown to be invalid; the runtime decides
        except ValueError as exc:
            return service_error(
                400, errors.INVALID_REQUEST_CONTENT,
                f"Could not parse request body into json: Could not parse payload into json: {exc}",
            )
    qualifier = _checked_qualifier(emulator, matched.group(1), request.target)
    if isinstance(qualifier, Response):
        return qualifier
    log_type = request.header("x-amz-log-type") or "None"
    if log_type not in ("None", "Tail"):
        return service_error(400, errors.VALIDATION_EXCEPTION,
                             f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [Tail, None]")
    kwargs: dict[str, Any] = {
        # Managed Instances mode takes the caller's invoke id, as AWS's RIE does there.
        "request_id": request.header("x-amzn-requestid") if emulator.max_concurrency > 1 else None,
        "client_context": client_context,
        "trace_id": request.header("x-amzn-trace-id"),
        "tenant_id": request.header("x-amz-tenant-id"),
        "qualifier": qualifier,  # the function's invoked ARN ends with it
    }
    invocation_type = request.header("x-amz-invocation-type") or "RequestResponse"
    allowed = ("RequestResponse", "DryRun") if streaming else ("RequestResponse", "Event", "DryRun")
    if invocation_type not in allowed:
        return service_error(
            400, errors.VALIDATION_EXCEPTION,
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(sorted(allowed))}]",
        )
    if invocation_type != "RequestResponse":
        kwargs["client_context"] = None  # Lambda passes it "for synchronous invocations only"
        request_id = kwargs.pop("request_id") or str(uuid.uuid4())
        assert emulator.function is not None
        ids = [("X-Amzn-RequestId", request_id), ("X-Amz-Executed-Version", emulator.function.version)]
        if invocation_type == "DryRun":
            return Response(204, b"", ids)
        threading.Thread(
            target=emulator.invoke, args=(payload,), kwargs={**kwargs, "request_id": request_id}, daemon=True
        ).start()
        return Response(202, b"", ids)
    if streaming:
        return _streamed(emulator.invoke(payload, stream=True, log_tail=log_type == "Tail", **kwargs))
    result = emulator.invoke(payload, log_tail=log_type == "Tail", **kwargs)
    headers = [(_canonical(k), v) for k, v in result.headers.items()]
    return Response(result.status, result.body, headers)


def _method_not_allowed(method: str) -> Response:
    """A method other than POST on an invocations path: 405, running nothing (a HEAD's
    answer has no body, as HTTP has it)."""
    refused = service_error(405, errors.METHOD_NOT_ALLOWED,
                            f"{method} is not allowed here: Invoke and InvokeWithResponseStream are POST")
    headers = [*refused.headers, ("Allow", "POST")]
    return Response(405, b"" if method == "HEAD" else refused.body, headers)


def _client_context(header: str) -> str | None:
    """X-Amz-Client-Context decoded, as the runtime gets it; None unless it is base64 of a
    JSON object (UTF-8), which Lambda refuses before the function runs."""
    try:
        text = base64.b64decode(header, validate=True).decode()
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError, JSONDecodeError
        return None
    return text if isinstance(parsed, dict) else None


def _checked_qualifier(emulator: Emulator, path_name: str, target: str) -> str | None | Response:
    """The qualifier, from FunctionName (`NAME:Q`, an ARN ending `:Q`) or ?Qualifier=, as
    Lambda takes either (None: none named), or the refusal: `$LATEST`, the function's
    version or an alias it has (a template's AutoPublishAlias) is served, any other is not
    found; two that differ are refused, in the words LocalStack (whose tests compare with
    AWS) and moto use: AWS's documentation does not quote them."""
    from openruntime.emulator.functions import split_function_name
    from openruntime.emulator.sandbox import ACCOUNT_ID

    name, in_name = split_function_name(path_name)
    in_query = dict(parse_qsl(target.partition("?")[2])).get("Qualifier") or None
    if in_name is not None and in_query is not None and in_name != in_query:
        return service_error(400, errors.INVALID_PARAMETER_VALUE,
                             "The derived qualifier from the function name does not match the specified qualifier.")
    qualifier = in_query or in_name
    fn = emulator.function
    assert fn is not None
    if qualifier is None or qualifier in ("$LATEST", fn.version, *fn.aliases):
        return qualifier
    # Named as the caller named it: in single-function mode any name reaches the function.
    return service_error(404, errors.RESOURCE_NOT_FOUND,
                         f"Function not found: arn:aws:lambda:{fn.region}:{ACCOUNT_ID}:function:{name}:{qualifier}")


def _streamed(result: InvokeResult) -> Response:
    """InvokeWithResponseStream's answer: 200 and event-stream frames, whether the function
    streamed (chunks as they come) or answered buffered (one chunk), an error included;
    with LogType=Tail, InvokeComplete carries the log (LogResult)."""
    headers = [("Content-Type", EVENT_STREAM), ("X-Amz-Executed-Version", result.headers["x-amz-executed-version"]),
               ("X-Amzn-RequestId", result.request_id)]

    def frames() -> Iterator[bytes]:
        streamed = result.stream
        if streamed is None:
            log = result.headers.get("x-amz-log-result")
            if result.function_error:
                yield eventstream.invoke_complete(*_error_fields(result.body), log_result=log)
                return
            if result.body:
                yield eventstream.payload_chunk(result.body)
            yield eventstream.invoke_complete(log_result=log)
            return
        for chunk in streamed:
            yield eventstream.payload_chunk(chunk)
        log = streamed.log_result() if streamed.log_result is not None else None
        if streamed.error_type is not None:
            yield eventstream.invoke_complete(streamed.error_type, _details(streamed.error_body), log)
        else:
            yield eventstream.invoke_complete(log_result=log)

    return Response(200, headers=headers, stream=frames())


def _error_fields(body: bytes) -> tuple[str, str]:
    return errors.error_type_of(body), _details(body)


def _details(body: bytes | None) -> str:
    """ErrorDetails: the error's message when its JSON has one, else its text."""
    text = (body or b"").decode("utf-8", "replace")
    try:
        message = json.loads(text).get("errorMessage")
    except (ValueError, AttributeError, RecursionError):
        return text
    return message if isinstance(message, str) else text


# Lambda's service model (botocore's data/lambda/2015-03-31) spells the message member per
# exception shape: "message" in most of those the emulator answers with, "Message" in
# these. boto3 copies the members into e.response, so the spelling is visible.
_CAPITALISED_MESSAGE = frozenset({errors.RESOURCE_NOT_FOUND})


def service_error(status: int, code: str, message: str) -> Response:
    """An error of the Lambda service itself (the Invoke API), shaped as the SDKs parse it:
    the code in X-Amzn-ErrorType, `{"Type": "User", "message": …}` as the body (`Message`
    where the model's shape has it so)."""
    member = "Message" if code in _CAPITALISED_MESSAGE else "message"
    body = json.dumps({"Type": "User", member: message}).encode()
    return Response(status, body, [("Content-Type", JSON), ("X-Amzn-ErrorType", code),
                                   ("X-Amzn-RequestId", str(uuid.uuid4()))])


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-")).replace("Amzn-Requestid", "Amzn-RequestId")
