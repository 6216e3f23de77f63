"""Through the real orchestrator and emulator, in exec and persistent mode: a CORS
preflight answered without the handler, form bodies parsed for it, the CORS and security
headers on its responses and on the error responses, in the media type the client
accepts; and a bad setting stops the middleware at start, naming the variable."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from aws_fixtures import pipeline_for
from http_support import EXECUTABLE, header, request_event

from tests.conftest import orchestrated

APP = "https://app.example.com"
ENV = {
    "HTTP_CORS_ORIGINS": APP, "HTTP_CORS_CREDENTIALS": "1", "HTTP_SECURITY_HEADERS": "1",
    "HTTP_PARSE_FORMS": "1", "HTTP_ERROR_MEDIA_TYPES": "application/json, text/plain, text/html",
}


def form_app(folder: Path) -> Path:
    app = folder / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent('''
        calls = []

        def handler(event, context):
            calls.append(event["method"])
            form = event.get("form") or {}
            if "fail" in form:
                raise ValueError("the handler failed on purpose")
            return {"statusCode": 200, "headers": {"X-Frame-Options": "SAMEORIGIN"},
                    "body": {"calls": calls, "form": form}}
    '''))
    return app


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_http_essentials_in_a_pipeline(tmp_path: Path, mode: str) -> None:
    middleware = {"name": "http", "command": str(EXECUTABLE), "mode": mode,
                  "hooks": ["before", "after", "error"], "env": ENV}
    pipeline = pipeline_for(tmp_path, form_app(tmp_path), [middleware])
    upload = httpx.Request("POST", APP, data={"tag": ["a", "b"]},
                           files={"doc": ("doc.bin", b"\x00\xff", "application/octet-stream")})
    with orchestrated(pipeline) as emulator:
        preflight = emulator.invoke(request_event(
            "apigw-v1-proxy-request.json", method="OPTIONS",
            headers={"Origin": APP, "Access-Control-Request-Method": "PUT"}))
        urlencoded = emulator.invoke(request_event(
            "function-url-request-captured-base64-body.json", method="POST",
            headers={"Origin": APP, "Content-Type": "application/x-www-form-urlencoded"},
            body=base64.b64encode(b"name=Ada+Lovelace&tag=x&tag=y").decode(), is_base64=True))
        multipart = emulator.invoke(request_event(
            "alb-request-multivalue-headers.json", method="POST",
            headers={"Content-Type": upload.headers["content-type"]},
            body=base64.b64encode(upload.read()).decode(), is_base64=True))
        malformed = emulator.invoke(request_event(
            "apigw-v2-http-request.json", method="POST",
            headers={"Origin": APP, "Accept": "text/plain", "Content-Type": "multipart/form-data; boundary=b"},
            body="--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"))
        failed = emulator.invoke(request_event(
            "apigw-v2-http-request.json", method="POST",
            headers={"Origin": APP, "Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"},
            body="fail=1"))

    response = preflight.json()
    assert response["statusCode"] == 204 and response["body"] == ""
    assert response["multiValueHeaders"]["Access-Control-Allow-Origin"] == [APP]
    assert response["multiValueHeaders"]["Access-Control-Allow-Methods"] == ["GET,HEAD,PUT,PATCH,POST,DELETE"]

    response = urlencoded.json()
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["form"] == {"name": ["Ada Lovelace"], "tag": ["x", "y"]}
    # The runtime process keeps `calls` across invocations: the preflight never reached it.
    assert body["calls"] == ["POST"]
    assert response["headers"]["Access-Control-Allow-Origin"] == APP
    assert response["headers"]["Access-Control-Allow-Credentials"] == "true"
    assert response["headers"]["Vary"] == "Origin"
    assert response["headers"]["X-Frame-Options"] == "SAMEORIGIN"  # the handler's own, kept
    assert response["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"

    response = multipart.json()
    form = json.loads(response["body"])["form"]
    assert form["tag"] == ["a", "b"]
    assert form["doc"] == [{"filename": "doc.bin", "contentType": "application/octet-stream", "size": 2,
                            "content": "AP8=", "isBase64Encoded": True}]
    assert response["multiValueHeaders"]["X-Content-Type-Options"] == ["nosniff"]

    assert malformed.function_error is None
    response = malformed.json()
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert response["body"].startswith("Bad Request\nrequestId: ")
    assert "errorMessage: multipart part 1: Content-Disposition must be form-data with a name" in response["body"]
    assert response["headers"]["Access-Control-Allow-Origin"] == APP

    assert failed.function_error is None
    response = failed.json()
    assert response["statusCode"] == 500
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert "<h1>Internal Server Error</h1>" in response["body"] and failed.request_id in response["body"]
    assert "on purpose" not in response["body"]  # HTTP_EXPOSE_ERRORS is off
    assert response["headers"]["Access-Control-Allow-Origin"] == APP
    assert response["headers"]["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("argument", ["before", "--persistent"])
def test_a_bad_setting_stops_the_middleware_at_start(argument: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HTTP_CORS_ORIGINS": "https://app.example.com/"}
    if argument == "--persistent":
        env["OPENRUNTIME_PROTOCOL"] = "2"
    result = subprocess.run([str(EXECUTABLE), argument], input=b"", capture_output=True, env=env,
                            timeout=30, check=False)
    assert result.returncode == 1 and result.stdout == b""  # no ready frame, no payload
    assert result.stderr.decode().strip() == (
        "HTTP.ConfigError: HTTP_CORS_ORIGINS: 'https://app.example.com/' is not an origin: "
        "scheme://host[:port], without a path or a trailing /")
