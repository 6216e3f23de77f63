"""The trace middleware as a real process: spans received by a real loopback OTLP/HTTP
server and X-Ray subsegments by a loopback UDP socket, with the incoming trace id."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from aws_fixtures import load, raw
from collectors import otlp_collector, read_segment, xray_daemon
from mw_harness import Frame, Persistent, clean_env, middleware

TRACE = middleware("trace")
XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
XRAY_TRACE_ID = "5759e988bd862e3fe1be46a994272793"
W3C = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def invoke_exec(tmp_path: Path, event: bytes, response: bytes, env: dict[str, str],
                hook: str = "after") -> tuple[str, str]:
    """`before`, then `after`/`error`, as the orchestrator runs them; their STDERR."""
    env = {"TMPDIR": str(tmp_path), "_X_AMZN_TRACE_ID": XRAY, **env}
    state = tmp_path / "trace.state"
    first = _run(hook="before", payload=event, state=state, env=env)
    second = _run(hook=hook, payload=response, state=state, env=env)
    return first, second


def _run(hook: str, payload: bytes, state: Path, env: dict[str, str]) -> str:
    # run_exec sets the harness's own trace header; ours goes in after it.
    state.touch()
    full = clean_env(env)
    full.update(OPENRUNTIME_REQUEST_ID="req-1", OPENRUNTIME_DEADLINE_MS=str(time.time_ns() // 10**6 + 60_000),
                OPENRUNTIME_FUNCTION_ARN="arn:aws:lambda:us-east-1:123456789012:function:orders",
                OPENRUNTIME_CONTENT_TYPE="application/json", OPENRUNTIME_MIDDLEWARE="trace",
                OPENRUNTIME_STATE_FILE=str(state), _X_AMZN_TRACE_ID=env["_X_AMZN_TRACE_ID"])
    result = subprocess.run([str(TRACE), hook], input=payload, capture_output=True, env=full, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == payload  # byte-identical
    return result.stderr.decode()


def test_exec_mode_exports_the_invocation_under_the_xray_trace_id(tmp_path: Path) -> None:
    with otlp_collector() as (url, received):
        invoke_exec(tmp_path, raw("sqs-batch.json"), b'{"ok": true}',
                    {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "AWS_LAMBDA_FUNCTION_NAME": "orders",
                     "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=k1"})
    (path, headers, body), = received.requests
    assert path == "/v1/traces" and headers["x-api-key"] == "k1"
    assert headers["Content-Type"] == "application/json"
    root, inner = received.spans()
    assert root["traceId"] == inner["traceId"] == XRAY_TRACE_ID
    assert root["parentSpanId"] == "53995c3f42cd8ad8" and inner["parentSpanId"] == root["spanId"]
    assert root["name"] == "orders" and root["kind"] == 2 and "status" not in root
    attributes = {a["key"]: next(iter(a["value"].values())) for a in root["attributes"]}
    assert attributes["faas.trigger"] == "pubsub" and attributes["faas.invocation_id"] == "req-1"
    assert attributes["faas.coldstart"] is True and attributes["openruntime.event_source"] == "sqs"
    assert int(root["startTimeUnixNano"]) <= int(inner["startTimeUnixNano"]) <= int(inner["endTimeUnixNano"])
    assert int(inner["endTimeUnixNano"]) <= int(root["endTimeUnixNano"])
    resource = {a["key"]: a["value"]["stringValue"] for a in body["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == "orders" and resource["cloud.platform"] == "aws_lambda"


def test_a_w3c_traceparent_in_the_http_headers_wins_and_errors_mark_the_span(tmp_path: Path) -> None:
    event = load("apigw-v2-http-request.json")
    event["headers"]["traceparent"] = W3C
    err = b'{"errorType": "Runtime.HandlerError", "errorMessage": "boom"}'
    with otlp_collector() as (url, received):
        invoke_exec(tmp_path, json.dumps(event).encode(), err, {"OTEL_EXPORTER_OTLP_ENDPOINT": url}, hook="error")
    root = received.spans()[0]
    assert root["traceId"] == "0af7651916cd43dd8448eb211c80319c" and root["parentSpanId"] == "b7ad6b7169203331"
    assert root["status"] == {"code": 2, "message": "Runtime.HandlerError: boom"}


def test_xray_subsegments_go_to_the_daemon_under_the_lambda_segment(tmp_path: Path) -> None:
    with xray_daemon() as (address, sock):
        invoke_exec(tmp_path, raw("s3-put.json"), b"{}", {"TRACE_EXPORTERS": "xray", "AWS_XRAY_DAEMON_ADDRESS": address})
        document = read_segment(sock)
    assert document["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert document["parent_id"] == "53995c3f42cd8ad8" and document["type"] == "subsegment"
    assert document["start_time"] <= document["subsegments"][0]["start_time"] <= document["end_time"]
    assert document["annotations"]["faas_trigger"] == "datasource"


def test_an_unreachable_collector_never_fails_the_invocation_and_is_said_once(tmp_path: Path) -> None:
    with otlp_collector() as (url, _):
        pass  # closed: nothing listens on that port any more
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url}
    _, first = invoke_exec(tmp_path, b"{}", b"{}", env)
    _, second = invoke_exec(tmp_path, b"{}", b"{}", env)
    assert "OTLP export failed" in first and url in first
    assert "export failed" not in second  # once, until it works again
    with otlp_collector() as (url2, received):
        _, third = invoke_exec(tmp_path, b"{}", b"{}", {"OTEL_EXPORTER_OTLP_ENDPOINT": url2})
    assert len(received.requests) == 1 and "works again" in third


def test_a_collector_that_never_answers_costs_at_most_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        _, stderr = invoke_exec(tmp_path, b"{}", b"{}", {"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                                         "OTEL_EXPORTER_OTLP_TIMEOUT": "300"})
        elapsed = time.monotonic() - started
    assert "no answer within 300 ms" in stderr or "timed out" in stderr, stderr
    assert elapsed < 5  # two Python starts and the 300 ms wait, far from a hang


def test_an_unsampled_trace_exports_nothing_and_says_so_once(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "_X_AMZN_TRACE_ID": XRAY.replace("Sampled=1", "Sampled=0")}
    with otlp_collector() as (url, received):
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
        logs = [*invoke_exec(tmp_path, b"{}", b"{}", env), *invoke_exec(tmp_path, b"{}", b"{}", env)]
    assert received.requests == []
    said = [line for text in logs for line in text.splitlines() if "not sampled" in line]
    assert len(said) == 1 and "OTEL_TRACES_SAMPLER=always_on" in said[0]  # once per sandbox, with the way out


def call(process: Persistent, hook: str, payload: bytes, state: object, request_id: str,
         timeout: float | None = None, outcome: str | None = None) -> Frame:
    """A request frame as the orchestrator writes it, with our X-Ray header."""
    header = {"hook": hook, "request_id": request_id, "deadline_ms": time.time_ns() // 10**6 + 60_000,
              "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:orders", "trace_id": XRAY,
              "tenant_id": None, "content_type": "application/json", "middleware": "trace", "state": state,
              **({"outcome": outcome} if outcome else {}), "length": len(payload)}
    process.send_raw(json.dumps(header).encode() + b"\n" + payload)
    return process.read_frame() if timeout is None else process.read_frame(timeout)


def test_persistent_mode_exports_each_invocation(tmp_path: Path) -> None:
    with otlp_collector() as (url, received), xray_daemon() as (address, sock):
        process = Persistent(TRACE, env={"TMPDIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                         "TRACE_EXPORTERS": "otlp,xray", "AWS_XRAY_DAEMON_ADDRESS": address})
        try:
            assert process.start().header["hooks"] == ["before", "after", "error", "received", "done"]
            for request_id in ("a", "b"):
                answer = call(process, "before", raw("kinesis.json"), None, request_id)
                assert answer.payload == raw("kinesis.json")
                call(process, "after", b"{}", answer.header["state"], request_id)
            assert process.close_stdin() == 0
        finally:
            if process.alive():
                process.kill()
        segments = [read_segment(sock), read_segment(sock)]
    roots = [span for span in received.spans() if span["kind"] == 2]
    assert [span["traceId"] for span in roots] == [XRAY_TRACE_ID] * 2
    cold = [next(a["value"]["boolValue"] for a in span["attributes"] if a["key"] == "faas.coldstart") for span in roots]
    assert cold == [True, False]
    assert [s["id"] for s in segments] == [span["spanId"] for span in roots]


def test_received_and_done_export_what_was_posted_and_answer_nothing_back(tmp_path: Path) -> None:
    """Its README entry, `hooks: [received, done]`: both after the post, the parent read
    from the event by `received`, the HTTP status or the error type of what the caller got."""
    event = raw("apigw-v2-http-request.json")
    with otlp_collector() as (url, received):
        process = Persistent(TRACE, env={"TMPDIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": url})
        try:
            process.start()
            posts = [("response", b'{"statusCode": 503, "body": "busy"}'),
                     ("error", b'{"errorType": "Sandbox.Timedout", "errorMessage": "late"}'), ("stream", b"")]
            for request_id, (outcome, posted) in zip("abc", posts):
                seen = call(process, "received", event, None, request_id)
                assert (seen.header["action"], seen.payload) == ("continue", b"")  # the event is not sent back
                answer = call(process, "done", posted, seen.header["state"], request_id, outcome=outcome)
                assert (answer.header["action"], answer.payload) == ("continue", b"")
            assert process.close_stdin() == 0
        finally:
            if process.alive():
                process.kill()
    roots = [span for span in received.spans() if span["kind"] == 2]
    attributes = [{a["key"]: next(iter(a["value"].values())) for a in root["attributes"]} for root in roots]
    assert [a["faas.invocation_id"] for a in attributes] == ["a", "b", "c"]
    # What `received` read (the parent, the trigger) reached `done` through the state.
    assert [root["traceId"] for root in roots] == [XRAY_TRACE_ID] * 3
    assert all(a["faas.trigger"] == "http" and a["openruntime.event_source"] == "apigw-v2" for a in attributes)
    assert attributes[0]["http.response.status_code"] in (503, "503") and "error.type" not in attributes[0]
    assert attributes[1]["error.type"] == "Sandbox.Timedout"
    assert "http.response.status_code" not in attributes[2] and "error.type" not in attributes[2]


@pytest.mark.parametrize("drop_idle", [False, True], ids=["kept-alive", "dropped-while-idle"])
def test_persistent_mode_keeps_one_connection_and_survives_its_loss(tmp_path: Path, drop_idle: bool) -> None:
    with otlp_collector(keep_alive=True, drop_idle=drop_idle) as (url, received):
        process = Persistent(TRACE, env={"TMPDIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": url})
        try:
            process.start()
            for request_id in ("a", "b", "c"):
                answer = call(process, "before", raw("kinesis.json"), None, request_id)
                call(process, "after", b"{}", answer.header["state"], request_id)
            assert process.close_stdin() == 0
        finally:
            if process.alive():
                process.kill()
    assert len(received.requests) == 3  # nothing lost to a connection the collector dropped
    assert received.connections == (3 if drop_idle else 1)
    assert "export" not in process.stderr().lower()  # no failure was logged


@pytest.mark.parametrize("ending", ["eof", "sigterm"])
def test_deferred_export_answers_before_the_collector_does_and_flushes_at_shutdown(
    tmp_path: Path, ending: str
) -> None:
    gate = threading.Event()
    with otlp_collector(keep_alive=True, gate=gate) as (url, received):
        process = Persistent(TRACE, env={"TMPDIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                         "TRACE_EXPORT": "deferred", "OTEL_EXPORTER_OTLP_TIMEOUT": "30000"})
        try:
            process.start()
            for request_id in ("a", "b", "c"):
                answer = call(process, "before", raw("kinesis.json"), None, request_id)
                # Answered while the collector holds the first POST (a sync export would wait
                # for it up to its 30 s timeout, and this read would give up first).
                done = call(process, "after", b"{}", answer.header["state"], request_id, timeout=5)
                assert done.header["action"] == "continue"
            assert received.requests == []
            gate.set()
            if ending == "eof":
                assert process.close_stdin() == 0
            else:
                process.proc.terminate()
                assert process.proc.wait(5) == 0
        finally:
            if process.alive():
                process.kill()
        received.wait(3)
    # Sent at the exit, within the 150 ms the orchestrator's shutdown leaves; on a machine
    # too busy for that, what could not go is said, never lost quietly.
    unsent = [int(line.split("trace: ")[1].split()[0]) for line in process.stderr().splitlines()
              if "spans not exported within the 150 ms" in line]
    assert len(received.requests) + sum(unsent) == 3, (received.requests, process.stderr())


def test_exec_mode_ignores_deferred_and_sends_in_the_hook(tmp_path: Path) -> None:
    with otlp_collector() as (url, received):
        invoke_exec(tmp_path, b"{}", b"{}", {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "_X_AMZN_TRACE_ID": XRAY,
                                             "TRACE_EXPORT": "deferred"})
        assert len(received.requests) == 1  # there when the hook's process has exited


def test_bad_settings_stop_it_at_start_naming_the_variable() -> None:
    result = subprocess.run([str(TRACE), "before"], input=b"{}", capture_output=True, timeout=20,
                            env=clean_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().startswith("Trace.ConfigError: OTEL_EXPORTER_OTLP_PROTOCOL=grpc")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test's certificate")
def test_an_https_collector_answering_a_byte_at_a_time_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    """The timeout bounds the whole https exchange, as it does for http: this collector's
    complete answer takes 9 s, a byte every 0.1 s."""
    import ssl

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def drip() -> None:
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)
                for byte in answer:
                    tls.sendall(bytes([byte]))
                    time.sleep(0.1)
        except OSError:
            return

    threading.Thread(target=drip, daemon=True).start()
    try:
        _, after = invoke_exec(tmp_path, b"{}", b"{}", {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://127.0.0.1:{listener.getsockname()[1]}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1000", "SSL_CERT_FILE": str(tmp_path / "cert.pem")})
    finally:
        listener.close()
    assert "export failed" in after and "within 1000 ms" in after, after


def test_received_beside_before_keeps_what_before_read(tmp_path: Path) -> None:
    """[before, received, done]: `before` read the event and counted the cold start;
    `received` leaves its state alone."""
    with otlp_collector() as (url, received):
        process = Persistent(TRACE, env={"TMPDIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": url})
        try:
            process.start()
            state = call(process, "before", raw("kinesis.json"), None, "a").header["state"]
            again = call(process, "received", raw("kinesis.json"), state, "a").header["state"]
            assert again == state
            call(process, "done", b"{}", again, "a", outcome="response")
            assert process.close_stdin() == 0
        finally:
            if process.alive():
                process.kill()
    root, = [span for span in received.spans() if span["kind"] == 2]
    attributes = {a["key"]: next(iter(a["value"].values())) for a in root["attributes"]}
    assert attributes["faas.coldstart"] is True and root["traceId"] == XRAY_TRACE_ID
