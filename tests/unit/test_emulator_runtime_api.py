"""The emulator's Runtime API status codes, driven by a hand-written runtime client."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator, FunctionSettings
from tests.conftest import wait_gone, write_executable

BASE = "/2018-06-01/runtime"


def request(address: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), data


def test_status_codes_follow_lambda(tmp_path: Path) -> None:
    # A runtime that sleeps: the test itself plays the Runtime API client.
    idle = write_executable(tmp_path / "idle", "#!/bin/sh\nexec sleep 60\n")
    with Emulator(command=[str(idle)], cwd=tmp_path, function=FunctionSettings(timeout_s=10),
                  log=lambda _: None) as emulator:
        api = emulator.runtime_api
        results: dict[str, object] = {}
        big = threading.Thread(target=lambda: results.update(first=emulator.invoke(b'{"n": 1}')))
        big.start()
        while emulator.runtime_pid is None:  # the bootstrap starts lazily, with the invoke
            time.sleep(0.01)
        status, headers, body = request(api, "GET", f"{BASE}/invocation/next")
        assert status == 200 and body == b'{"n": 1}'
        request_id = headers["lambda-runtime-aws-request-id"]
        assert int(headers["lambda-runtime-deadline-ms"]) > 0
        assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:test_function")
        assert headers["content-type"] == "application/json"
        # init/error after /next is a state violation
        assert request(api, "POST", f"{BASE}/init/error", b"{}")[0] == 403
        assert request(api, "POST", f"{BASE}/invocation/not-the-id/response", b"{}")[0] == 400
        too_big = b"x" * (6 * 1024 * 1024 + 101)
        status, _, body = request(api, "POST", f"{BASE}/invocation/{request_id}/response", too_big)
        assert status == 413 and json.loads(body)["errorType"] == "RequestEntityTooLarge"
        big.join()
        first = results["first"]
        assert first.function_error == "Unhandled"  # type: ignore[attr-defined]
        assert first.json()["errorType"] == "Function.ResponseSizeTooLarge"  # type: ignore[attr-defined]
        assert "(6291557 bytes)" in first.json()["errorMessage"]  # type: ignore[attr-defined]
        # A second answer for the same id is refused, named as the RIE names the transition.
        status, _, body = request(api, "POST", f"{BASE}/invocation/{request_id}/response", b"{}")
        assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"
        assert "RuntimeResponseSentState to InvocationResponse failed" in json.loads(body)["errorMessage"]
        status, _, body = request(api, "POST", f"{BASE}/invocation/{request_id}/error", b"{}")
        assert status == 403
        assert "RuntimeResponseSentState to InvocationErrorResponse failed" in json.loads(body)["errorMessage"]
        assert request(api, "GET", "/2018-06-01/nothing")[0] == 404


def test_timeout_answers_lambdas_error_and_restarts_the_bootstrap(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os, time, json
        with open({str(counter)!r}, "a") as f:
            f.write("start\\n")
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            r = conn.getresponse(); event = json.loads(r.read())
            rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
            time.sleep(event.get("sleep", 0))
            conn.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=b'"done"')
            conn.getresponse().read()
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=1),
                  log=lambda _: None) as emulator:
        slow = emulator.invoke(b'{"sleep": 5}')
        fast = emulator.invoke(b'{"sleep": 0}')
    assert slow.function_error == "Unhandled"
    assert slow.json() == {"errorType": "Sandbox.Timedout",
                           "errorMessage": f"RequestId: {slow.request_id} Error: Task timed out after 1.00 seconds"}
    assert fast.body == b'"done"' and fast.function_error is None
    assert counter.read_text().count("start") == 2  # killed and started again


def test_runtime_exit_is_reported_and_next_invoke_reinitialises(tmp_path: Path) -> None:
    runtime = write_executable(tmp_path / "bootstrap", "#!/bin/sh\necho dying >&2\nexit 3\n")
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=5),
                  child_stderr=-3, log=lambda _: None) as emulator:
        first = emulator.invoke(b"{}")
        second = emulator.invoke(b"{}")
    for result in (first, second):
        assert result.function_error == "Unhandled"
        assert result.json()["errorType"] == "Runtime.ExitError"
        assert result.json()["errorMessage"] == f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3"


def test_warm_runtime_exiting_between_events_is_started_again_without_losing_one(tmp_path: Path) -> None:
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        r = conn.getresponse(); body = r.read()
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=body)
        conn.getresponse().read()
        # exits after one answer
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=10),
                  log=lambda _: None) as emulator:
        results = [emulator.invoke(b'{"n": %d}' % n) for n in range(4)]
    assert [r.json() for r in results] == [{"n": n} for n in range(4)]


def test_a_cold_starts_init_is_not_charged_to_the_function_timeout(tmp_path: Path) -> None:
    """Lambda gives init its own budget: the deadline is set when the event is delivered."""
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os, time, json
        time.sleep(1.5)  # a slow init, longer than the 1 s timeout
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            r = conn.getresponse(); r.read()
            left_ms = int(r.getheader("Lambda-Runtime-Deadline-Ms")) - time.time() * 1000
            rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
            conn.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=json.dumps(left_ms).encode())
            conn.getresponse().read()
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=1),
                  log=lambda _: None) as emulator:
        cold = emulator.invoke(b"{}")
    assert cold.function_error is None, cold.body
    assert 800 < cold.json() <= 1000  # the whole second is the handler's


def test_invocation_types_over_the_invoke_api(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            r = conn.getresponse(); body = r.read()
            rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
            open({str(marker)!r}, "a").write(rid + "\\n")
            conn.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=body)
            conn.getresponse().read()
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=5),
                  log=lambda _: None) as emulator:
        server = emulator.serve_invoke_api(0)
        address = f"127.0.0.1:{server.port}"
        path = "/2015-03-31/functions/function/invocations"
        status, headers, _ = request(address, "POST", path, b"{}", {"X-Amz-Invocation-Type": "DryRun"})
        assert status == 204 and headers["x-amzn-requestid"]
        status, headers, _ = request(address, "POST", path, b"{}", {"X-Amz-Invocation-Type": "Event"})
        assert status == 202 and headers["x-amz-executed-version"] == "$LATEST"
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the async invoke ran with the request id the 202 announced (DryRun ran nothing)
        assert marker.read_text().split() == [headers["x-amzn-requestid"]]
        status, headers, body = request(address, "POST", path, b"{}", {"X-Amz-Invocation-Type": "Bogus"})
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
        assert b"Member must satisfy enum value set" in body


def test_a_timeout_ends_everything_the_bootstrap_started_in_any_session(tmp_path: Path) -> None:
    """A sandbox reset leaves nothing behind, not even a process that left the bootstrap's group."""
    pidfile = tmp_path / "detached.pid"
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os, subprocess, time
        detached = subprocess.Popen(["sleep", "300"], start_new_session=True)
        open({str(pidfile)!r}, "w").write(str(detached.pid))
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        conn.getresponse().read()
        time.sleep(300)  # never answers
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=1),
                  log=lambda _: None) as emulator:
        result = emulator.invoke(b"{}")
        assert result.json()["errorType"] == "Sandbox.Timedout"
        assert wait_gone([int(pidfile.read_text())]) == []


def test_a_bootstrap_that_polls_before_the_emulator_has_recorded_it_is_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spawn returns late (a loaded machine): the bootstrap's first /next is already
    waiting. It must get the event, not a 500 meant for a replaced process."""
    import openruntime.emulator.sandbox as emulator_module

    real_spawn = emulator_module.spawn

    def slow_spawn(*args, **kwargs):  # type: ignore[no-untyped-def]
        process = real_spawn(*args, **kwargs)
        time.sleep(0.3)  # the bootstrap runs meanwhile
        return process

    monkeypatch.setattr(emulator_module, "spawn", slow_spawn)
    runtime = write_executable(tmp_path / "bootstrap", f"""
        #!{sys.executable}
        import http.client, os
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        while True:
            conn = http.client.HTTPConnection(host, int(port))
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"next answered {{response.status}}")
            rid = response.getheader("Lambda-Runtime-Aws-Request-Id")
            conn.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=body)
            conn.getresponse().read()
    """)
    with Emulator(command=[str(runtime)], cwd=tmp_path, function=FunctionSettings(timeout_s=10),
                  log=lambda _: None) as emulator:
        result = emulator.invoke(b'{"fast": true}')
    assert result.status == 200 and result.function_error is None, result.body
    assert result.json() == {"fast": True}
