"""`openruntime serve --http PORT`: real HTTP requests, read with httpx, become the events
API Gateway / ALB send, through the pipeline; the answers come back as real HTTP."""

from __future__ import annotations

import base64
import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import serving_cli, write_pipeline

APP = """\
import base64, json
def handler(event, context):
    path = event.get("rawPath") or event.get("path")
    if path == "/binary":
        return {"statusCode": 201, "headers": {"content-type": "image/png", "x-answer": "yes",
                                               "Access-Control-Allow-Origin": "https://app.example"},
                "cookies": ["session=abc; Path=/", "theme=dark"],
                "multiValueHeaders": {"x-multi": ["1", "2"], "access-control-allow-origin": ["https://app.example"]},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if path == "/inferred":
        return {"hello": "world"}
    if path == "/broken":
        raise ValueError("no")
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def front(tmp_path: Path, kind: str = "v2", app: str = APP, handler: str = "app.handler",
          runtime: str = "python", filename: str = "app.py") -> Iterator[str]:
    (tmp_path / filename).write_text(app)
    write_pipeline(tmp_path, f"runtime: {{name: {runtime}, handler: {handler}, task_root: .}}\n")
    port = free_port()
    with serving_cli(tmp_path, "--http", str(port), "--http-event", kind):
        yield f"http://127.0.0.1:{port}"


def test_status_headers_cookies_and_a_binary_body(tmp_path: Path) -> None:
    with front(tmp_path) as url:
        answer = httpx.get(f"{url}/binary")
    assert answer.status_code == 201 and answer.content == bytes(range(256))
    assert answer.headers["content-type"] == "image/png" and answer.headers["x-answer"] == "yes"
    assert answer.headers.get_list("set-cookie") == ["session=abc; Path=/", "theme=dark"]
    assert "x-multi" not in answer.headers  # payload 2.0 has no multiValueHeaders


def test_the_request_becomes_an_http_api_event(tmp_path: Path) -> None:
    with front(tmp_path) as url:
        event = httpx.post(f"{url}/orders/42?expand=items&expand=notes", content=b"\xff\x00binary",
                           headers={"content-type": "application/octet-stream", "x-trace": "t1"},
                           cookies={"a": "1"}).json()
        inferred = httpx.get(f"{url}/inferred")
        broken = httpx.get(f"{url}/broken")
    assert event["version"] == "2.0" and event["rawPath"] == "/orders/42"
    assert event["rawQueryString"] == "expand=items&expand=notes"
    assert event["queryStringParameters"] == {"expand": "items,notes"}
    assert event["requestContext"]["http"]["method"] == "POST" and event["headers"]["x-trace"] == "t1"
    assert event["cookies"] == ["a=1"] and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\xff\x00binary"
    assert inferred.status_code == 200 and inferred.json() == {"hello": "world"}  # HTTP APIs infer it
    assert broken.status_code == 502 and broken.json() == {"message": "Internal Server Error"}


def test_rest_api_events_and_multi_value_headers(tmp_path: Path) -> None:
    with front(tmp_path, kind="v1") as url:
        event = httpx.get(f"{url}/items?x=1&x=2").json()
        binary = httpx.get(f"{url}/binary")
    assert event["httpMethod"] == "GET" and event["path"] == "/items" and event["resource"] == "/{proxy+}"
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]} and event["queryStringParameters"] == {"x": "2"}
    assert binary.headers.get_list("x-multi") == ["1", "2"] and binary.content == bytes(range(256))
    # In both maps (as the http middleware writes for REST APIs): sent once, as API Gateway
    # merges them; a browser refuses two Access-Control-Allow-Origin values.
    assert binary.headers.get_list("access-control-allow-origin") == ["https://app.example"]
    assert binary.headers["x-answer"] == "yes"


STREAMING_APP = """\
const { existsSync } = require('node:fs');
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, {statusCode: 207, headers: {'x-streamed': 'yes'},
                                                     cookies: ['s=1']});
  stream.write('first\\n');
  while (!existsSync(event.rawQueryString.split('=')[1])) await new Promise((r) => setTimeout(r, 10));
  stream.end('second\\n');
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_a_streamed_http_response_streams_through_the_front(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with front(tmp_path, app=STREAMING_APP, runtime="node", filename="app.js") as url:
        with httpx.stream("GET", f"{url}/stream?gate={gate}", timeout=30) as answer:
            chunks = answer.iter_raw()
            first = next(chunks)
            gate.touch()  # the function writes the rest only now: the first chunk came alone
            rest = b"".join(chunks)
            status, headers = answer.status_code, answer.headers
    assert status == 207 and headers["x-streamed"] == "yes" and headers.get_list("set-cookie") == ["s=1"]
    assert first == b"first\n" and rest == b"second\n"


def test_a_function_url_event_is_payload_2_0_with_its_own_context(tmp_path: Path) -> None:
    with front(tmp_path, kind="url") as url:
        event = httpx.get(f"{url}/x").json()
    assert event["version"] == "2.0" and event["requestContext"]["accountId"] == "anonymous"
    assert json.loads(json.dumps(event))["rawPath"] == "/x"


FAILING_STREAMS_APP = """\
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  const path = event.rawPath;
  const http = (prelude) => awslambda.HttpResponseStream.from(stream, prelude);
  if (path === '/throwfirst') throw new Error('before any byte');
  if (path === '/throwlater') {
    stream.write('partial');
    await new Promise((r) => setTimeout(r, 50));
    throw new Error('after the first byte');
  }
  if (path === '/badstatus') { stream = http({statusCode: 'abc'}); stream.end('x'); return; }
  if (path === '/hugestatus') { stream = http({statusCode: 99999}); stream.end('x'); return; }
  if (path === '/listheaders') { stream = http({statusCode: 200, headers: ['x']}); stream.end('x'); return; }
  if (path === '/splitheader') { stream = http({statusCode: 200, headers: {'x-a': 'a\\r\\nInjected: 1'}}); stream.end('x'); return; }
  if (path === '/nocontent') { stream = http({statusCode: 204, headers: {'x-seen': 'yes'}}); stream.end('dropped'); return; }
  stream = http({statusCode: 200});
  stream.end('fine');
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_a_failing_or_malformed_stream_never_looks_like_a_good_answer(tmp_path: Path) -> None:
    """A function URL answers 502 for a function that fails before its first byte or
    writes a prelude no client could be sent; one that fails later has its response cut
    short (no closing chunk), so the caller cannot mistake it for a complete one; a 204
    goes out without a body. The front never dies with a traceback."""
    with front(tmp_path, app=FAILING_STREAMS_APP, runtime="node", filename="app.js") as url:
        for path in ("/throwfirst", "/badstatus", "/hugestatus", "/listheaders", "/splitheader"):
            answer = httpx.get(f"{url}{path}", timeout=30)
            assert (answer.status_code, answer.json()) == (502, {"message": "Internal Server Error"}), path
            assert "injected" not in answer.headers
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{url}/throwlater", timeout=30)
        with socket.create_connection((url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(b"GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 204 ") and b"x-seen: yes" in head.lower()
        assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower() and body == b""
        assert httpx.get(f"{url}/fine", timeout=30).text == "fine"  # the front and the function go on
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_a_buffered_answer_no_client_could_be_sent_is_a_502(tmp_path: Path) -> None:
    app = """\
def handler(event, context):
    return {"/huge": {"statusCode": 99999}, "/list": {"statusCode": 200, "headers": ["x"]},
            "/split": {"statusCode": 200, "headers": {"x-a": "a\\r\\nInjected: 1"}},
            "/wide": {"statusCode": 200, "headers": {"x-a": "\\u4e2d"}},
            "/nocontent": {"statusCode": 204, "body": "dropped"}}[event["rawPath"]]
"""
    with front(tmp_path, app=app) as url:
        for path in ("/huge", "/list", "/split", "/wide"):
            answer = httpx.get(f"{url}{path}", timeout=30)
            assert answer.status_code == 502, path
        nocontent = httpx.get(f"{url}/nocontent", timeout=30)
        assert nocontent.status_code == 204 and nocontent.content == b""
        assert "content-length" not in nocontent.headers
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


ROUTED_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: .
  HttpApi:
    CorsConfiguration: {AllowOrigins: ["https://app.example"], AllowMethods: [POST]}
Resources:
  ItemFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.item
      Events:
        Get:
          Type: Api
          Properties: {Path: "/items/{id}", Method: get}
  OrderFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.order
      Events:
        Post:
          Type: HttpApi
          Properties: {Path: "/orders", Method: post}
"""

ROUTED_APP = """\
import json
def item(event, context):
    return {"statusCode": 200, "body": json.dumps({"fn": context.function_name, "resource": event["resource"],
                                                 "params": event["pathParameters"], "version": event.get("version")})}
def order(event, context):
    return {"fn": context.function_name, "routeKey": event["routeKey"], "version": event["version"]}
"""


def test_a_templates_api_events_route_each_request_to_its_function(tmp_path: Path) -> None:
    """`serve --template --http`, as `sam local start-api`: each Api/HttpApi route to its
    function in its API's payload format; what no route takes, API Gateway's answer."""
    (tmp_path / "app.py").write_text(ROUTED_APP)
    (tmp_path / "template.yaml").write_text(ROUTED_TEMPLATE)
    port = free_port()
    with serving_cli(tmp_path, "--template", "template.yaml", "--http", str(port), drop_pipeline=True):
        url = f"http://127.0.0.1:{port}"
        item = httpx.get(f"{url}/items/42")
        order = httpx.post(f"{url}/orders", content=b"{}")
        wrong_method = httpx.post(f"{url}/items/42")
        nowhere = httpx.get(f"{url}/nowhere")
        # The HTTP API's CORS, from the template: the preflight answered, the grant added.
        preflight = httpx.options(f"{url}/orders", headers={"Origin": "https://app.example",
                                                            "Access-Control-Request-Method": "POST"})
        cross = httpx.post(f"{url}/orders", content=b"{}", headers={"Origin": "https://app.example"})
    assert item.status_code == 200 and item.json() == {
        "fn": "ItemFunction", "resource": "/items/{id}", "params": {"id": "42"}, "version": None}  # REST: payload 1.0
    assert order.status_code == 200 and order.json() == {"fn": "OrderFunction", "routeKey": "POST /orders",
                                                         "version": "2.0"}
    # Both APIs here: an HTTP API's 404 (a template of REST APIs only: 403 Missing Authentication Token).
    assert wrong_method.status_code == nowhere.status_code == 404
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert cross.json()["fn"] == "OrderFunction" and cross.headers["access-control-allow-origin"] == "https://app.example"
    log = (tmp_path / "serve.log").read_text()
    assert "HTTP front: GET /items/{id} → ItemFunction (REST API, payload 1.0)" in log
