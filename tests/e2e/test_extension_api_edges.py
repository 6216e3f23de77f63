"""The Extensions and Telemetry APIs at their edges: hostile requests, bounded memory,
resets, timeouts, registration rules and crashes, driven over real sockets with a
hand-written runtime and real extension processes (no component of ours is mocked)."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openruntime.emulator.sandbox import Emulator, FunctionSettings
from tests.conftest import write_executable

# A runtime: optionally registers an internal extension during init (its identifier to
# BOOT_ID_FILE, its events from BOOT_EVENTS), then answers each event with the event itself
# after doing what it asks: {"lines": N, "width": W} prints, {"wait_gone": FILE} waits until
# the process whose pid is in FILE has exited.
BOOTSTRAP = """\
#!{python}
import json, os, sys, time, urllib.error, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
if os.environ.get("BOOT_ID_FILE"):
    events = [e for e in os.environ.get("BOOT_EVENTS", "").split(",") if e]
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/register",
        data=json.dumps({{"events": events}}).encode(), method="POST",
        headers={{"Lambda-Extension-Name": "boot-internal"}})
    try:
        with urllib.request.urlopen(request) as answer:
            result = answer.headers["Lambda-Extension-Identifier"]
    except urllib.error.HTTPError as refused:
        result = "refused " + str(refused.code) + " " + refused.read().decode()
    with open(os.environ["BOOT_ID_FILE"], "w") as f:
        f.write(result)
while True:
    with urllib.request.urlopen(f"http://{{api}}/2018-06-01/runtime/invocation/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(answer.read())
    for n in range(event.get("lines", 0)):
        print(str(n) * event.get("width", 10), flush=True)
    if event.get("wait_gone"):
        while not os.path.exists(event["wait_gone"]):
            time.sleep(0.01)
        pid = int(open(event["wait_gone"]).read())
        while os.path.exists(f"/proc/{{pid}}") and open(f"/proc/{{pid}}/stat").read().split()[2] != "Z":
            time.sleep(0.01)
    urllib.request.urlopen(urllib.request.Request(
        f"http://{{api}}/2018-06-01/runtime/invocation/{{request_id}}/response",
        data=json.dumps(event).encode(), method="POST")).read()
"""


def bootstrap(folder: Path) -> Path:
    return write_executable(folder / "bootstrap", BOOTSTRAP.format(python=sys.executable))


@contextmanager
def sandbox(tmp_path: Path, env: dict[str, str] | None = None, timeout_s: float = 20.0,
            extensions: Path | None = None, lines: list[str] | None = None) -> Iterator[Emulator]:
    emulator = Emulator(command=[str(bootstrap(tmp_path))], cwd=tmp_path, env=env or {},
                        function=FunctionSettings(timeout_s=timeout_s),
                        log=(lines.append if lines is not None else lambda _: None),
                        extensions_dir=str(extensions) if extensions else None,
                        child_stdout=open(os.devnull, "wb"), child_stderr=open(os.devnull, "wb"))
    with emulator:
        yield emulator


def call(address: str, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = {"raw": data.decode("utf-8", "replace")}
    return answer.status, parsed if isinstance(parsed, dict) else {"value": parsed}


def register(address: str, body: bytes, name: str = "probe") -> tuple[int, dict[str, Any]]:
    return call(address, "POST", "/2020-01-01/extension/register", body, {"Lambda-Extension-Name": name})


def subscription(port: int | str = 1, **buffering: Any) -> dict[str, Any]:
    return {"schemaVersion": "2022-12-13", "types": ["platform", "function"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25, **buffering},
            "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/t"}}


def subscribe(address: str, identifier: str, body: dict[str, Any] | bytes) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return call(address, "PUT", "/2022-07-01/telemetry", raw, {"Lambda-Extension-Identifier": identifier})


def test_malformed_requests_get_clear_4xx_answers_and_the_sandbox_goes_on(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    with sandbox(tmp_path, env={"BOOT_ID_FILE": str(id_file)}) as emulator:
        assert emulator.invoke(b'{"n": 1}').body == b'{"n": 1}'
        api, identifier = emulator.runtime_api, id_file.read_text()
        # As AWS's RIE: a body it cannot read is 403 InvalidRequestFormat, an unknown event 403.
        for body in (b'{"events": null}', b'{"events": 5}', b'[1]', b'{"events": [5]}', b'not json'):
            status, error = register(api, body)
            assert (status, error["errorType"]) == (403, "InvalidRequestFormat"), body
        status, error = register(api, b'{"events": ["BOGUS"]}')
        assert (status, error["errorType"]) == (403, "Extension.InvalidEventType")
        status, error = register(api, b'{"events": []}' + b" " * (7 * 1024 * 1024))
        assert (status, error["errorType"]) == (413, "RequestEntityTooLarge")
        # Telemetry: numbers out of range or not finite, ports and hosts that cannot be used.
        hostile = {
            "buffering.maxItems": b'{"schemaVersion": "2022-12-13", "types": ["platform"], '
                                  b'"buffering": {"maxItems": 1e400}, '
                                  b'"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9/t"}}',
            "buffering.timeoutMs": json.dumps(subscription(timeoutMs=float("nan"))).encode(),
            "the port": json.dumps(subscription(port=99999999)).encode(),
            "give a port": json.dumps(subscription(port="")).encode(),
            "types must be": json.dumps({**subscription(), "types": "platform"}).encode(),
            "buffering must be": json.dumps({**subscription(), "buffering": [1]}).encode(),
        }
        for words, body in hostile.items():
            status, error = subscribe(api, identifier, body)
            assert status == 400 and words in error["errorMessage"], (words, error)
        far = subscription()
        far["destination"]["URI"] = "http://example.com:8080/t"
        status, error = subscribe(api, identifier, far)
        assert status == 400 and "host must be" in error["errorMessage"]
        status, error = subscribe(api, identifier, b"x" * (7 * 1024 * 1024))
        assert (status, error["errorType"]) == (413, "RequestEntityTooLarge")
        assert subscribe(api, identifier, subscription(port=9))[0] == 200  # a good one still is
        assert emulator.invoke(b'{"n": 2}').body == b'{"n": 2}'
