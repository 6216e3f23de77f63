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

from openruntime.emulator.sandbox import INIT_BUDGET_S, Emulator, FunctionSettings
from tests.conftest import EXTENSION_REGISTER, EXTENSION_UNTIL_SHUTDOWN, write_executable

# A runtime: optionally registers an internal extension during init (its identifier to
# BOOT_ID_FILE, its events from BOOT_EVENTS), then answers each event with the event itself
# after doing what it asks: {"sleep": S} sleeps, {"lines": N, "width": W} prints, {"wait_gone": FILE} waits until
# the process whose pid is in FILE has exited.
BOOTSTRAP = """\
#!{python}
import json, os, sys, time, urllib.error, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
if os.environ.get("BOOT_MARK"):
    open(os.environ["BOOT_MARK"], "w").close()
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
    time.sleep(event.get("sleep", 0))
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
            extensions: Path | None = None, lines: list[str] | None = None,
            init_budget_s: float = INIT_BUDGET_S) -> Iterator[Emulator]:
    emulator = Emulator(command=[str(bootstrap(tmp_path))], cwd=tmp_path, env=env or {},
                        function=FunctionSettings(timeout_s=timeout_s), init_budget_s=init_budget_s,
                        log=(lines.append if lines is not None else lambda _: None),
                        extensions_dir=str(extensions) if extensions else None, capture_output=True,
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


def peak_rss_mb() -> float:
    """This process's peak resident memory (the emulator runs in it), from /proc."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


# An external extension that writes NOLINE_MB megabytes with no newline before it registers
# (so init has read them all when the first invoke returns), then serves its events.
NOLINE_EXTENSION = """\
#!{python}
import json, os, sys, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
chunk = b"x" * (1024 * 1024)
for _ in range(int(os.environ.get("NOLINE_MB", "0"))):
    sys.stdout.buffer.write(chunk)
sys.stdout.buffer.write(b"\\n")
sys.stdout.flush()
""" + EXTENSION_REGISTER + EXTENSION_UNTIL_SHUTDOWN


def test_a_long_line_from_an_extension_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    write_executable(tmp_path / "extensions" / "noline", NOLINE_EXTENSION.format(python=sys.executable))
    before = peak_rss_mb()
    with sandbox(tmp_path, env={"NOLINE_MB": "200"}, extensions=tmp_path / "extensions") as emulator:
        assert emulator.invoke(b"{}").body == b"{}"
    assert peak_rss_mb() - before < 60, "200 MB on one line was held whole"


class Receiver:
    """A telemetry destination on loopback: each batch's size and records (`answer`: False
    for one that accepts connections and never answers)."""

    def __init__(self, answer: bool = True) -> None:
        self.batches: list[tuple[int, list[dict[str, Any]]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.batches.append((len(raw), json.loads(raw)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        if answer:
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [record for _, batch in self.batches for record in batch]

    def close(self) -> None:
        self.server.server_close()


def test_a_destination_that_never_answers_does_not_grow_memory(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    silent = Receiver(answer=False)  # its listen backlog takes the connection; nobody reads
    try:
        with sandbox(tmp_path, env={"BOOT_ID_FILE": str(id_file)}) as emulator:
            emulator.invoke(b"{}")
            assert subscribe(emulator.runtime_api, id_file.read_text(), subscription(silent.port))[0] == 200
            before = peak_rss_mb()
            emulator.invoke(json.dumps({"lines": 1500, "width": 100_000}).encode())  # 150 MB of log
            assert peak_rss_mb() - before < 60
    finally:
        silent.close()


def test_batches_stay_within_max_bytes_and_a_record_over_it_is_reported_dropped(tmp_path: Path) -> None:
    from openruntime.emulator.telemetry import Subscriber

    receiver = Receiver()
    try:
        buffering = {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}
        subscriber = Subscriber("probe", ("function",), buffering, ("127.0.0.1", receiver.port, "/t"))
        for n in range(90):  # 900 KB: within the buffer's bound (4 batches), over one batch
            subscriber.add({"time": "t", "type": "function", "record": str(n % 10) * 10_000})
        subscriber.add({"time": "t", "type": "function", "record": "y" * 300_000})  # no batch holds it
        subscriber.close()
        sizes = [size for size, _ in receiver.batches]
        assert len(sizes) >= 4 and all(size <= 262144 for size in sizes), sizes
        records = receiver.records()
        lines = [r for r in records if r["type"] == "function"]
        assert len(lines) == 90 and all(len(r["record"]) == 10_000 for r in lines)
        dropped = [r["record"] for r in records if r["type"] == "platform.logsDropped"]
        assert dropped == [{"reason": dropped[0]["reason"], "droppedRecords": 1, "droppedBytes": 300_042}]
        assert subscriber.size == 0 and not subscriber.buffer  # the byte count followed what was sent
    finally:
        receiver.close()


# An external extension that subscribes to the Telemetry API on a fixed port (TELEMETRY_PORT:
# as AWS's samples do, the same one in each environment) and writes each record it gets, with
# its own pid, to TELEMETRY_OUT; it notes the SHUTDOWN events it gets in the same file.
TELEMETRY_EXTENSION = """\
#!{python}
import http.server, json, os, sys, threading, urllib.request
api, out, port = os.environ["AWS_LAMBDA_RUNTIME_API"], os.environ["TELEMETRY_OUT"], int(os.environ["TELEMETRY_PORT"])
lock = threading.Lock()
def note(entry):
    with lock, open(out, "a") as f:
        f.write(json.dumps({{"pid": os.getpid(), **entry}}) + "\\n")
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        for record in json.loads(self.rfile.read(int(self.headers["Content-Length"]))):
            note({{"record": record}})
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
""" + EXTENSION_REGISTER + """\
subscription = {{"schemaVersion": "2022-12-13", "types": ["platform", "function"],
                "buffering": {{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}},
                "destination": {{"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{{port}}/t"}}}}
urllib.request.urlopen(urllib.request.Request(f"http://{{api}}/2022-07-01/telemetry",
    data=json.dumps(subscription).encode(), method="PUT", headers={{"Lambda-Extension-Identifier": identifier}})).read()
while True:
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/event/next",
                                     headers={{"Lambda-Extension-Identifier": identifier}})
    with urllib.request.urlopen(request) as answer:
        event = json.loads(answer.read())
    if event["eventType"] == "SHUTDOWN":
        note({{"shutdown": event["shutdownReason"]}})
        sys.exit(0)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def telemetry_sandbox(tmp_path: Path, lines: list[str] | None = None, timeout_s: float = 20.0,
                      env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    write_executable(tmp_path / "extensions" / "telemetry-probe", TELEMETRY_EXTENSION.format(python=sys.executable))
    env = {"TELEMETRY_OUT": str(tmp_path / "telemetry.jsonl"), "TELEMETRY_PORT": str(free_port()), **(env or {})}
    return sandbox(tmp_path, env=env, timeout_s=timeout_s, extensions=tmp_path / "extensions", lines=lines)


def noted(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "telemetry.jsonl").read_text().splitlines()]


def test_a_reset_is_a_new_environment_for_telemetry_subscribers(tmp_path: Path) -> None:
    """After a timeout the old subscription and its records are gone: the new extension
    instance gets the new environment's records, each once, and none of the old one's."""
    with telemetry_sandbox(tmp_path, timeout_s=1) as emulator:
        first = emulator.invoke(b'{"lines": 1}').request_id
        slow = emulator.invoke(b'{"sleep": 3}')
        assert slow.json()["errorType"] == "Sandbox.Timedout"
        third = emulator.invoke(b'{"lines": 1}').request_id
    entries = noted(tmp_path)
    pids = list(dict.fromkeys(e["pid"] for e in entries))
    assert len(pids) == 2, pids  # the first environment's extension, then the new one's
    new = [e["record"] for e in entries if e["pid"] == pids[1] and "record" in e]
    ids = {r["record"].get("requestId") for r in new if isinstance(r["record"], dict)}
    assert first not in ids and slow.request_id not in ids and third in ids
    kinds = [r["type"] for r in new]
    assert kinds.count("platform.initStart") == 1 and kinds.count("platform.start") == 1
    texts = [json.dumps(r, sort_keys=True) for r in new]
    assert len(texts) == len(set(texts)), "a record came twice"


def test_a_timeout_is_reported_as_lambda_reports_one(tmp_path: Path) -> None:
    lines: list[str] = []
    with telemetry_sandbox(tmp_path, lines=lines, timeout_s=1) as emulator:
        emulator.invoke(b"{}")
        slow = emulator.invoke(b'{"sleep": 3}')
    assert slow.json()["errorType"] == "Sandbox.Timedout"
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {slow.request_id}"))
    assert report.endswith("\tStatus: timeout"), report
    entries = noted(tmp_path)
    first_pid = entries[0]["pid"]
    assert {"pid": first_pid, "shutdown": "timeout"} in entries
    reports = [e["record"]["record"] for e in entries if "record" in e and e["record"]["type"] == "platform.report"
               and e["record"]["record"]["requestId"] == slow.request_id]
    assert [r["status"] for r in reports] == ["timeout"]


def test_registration_closes_once_the_runtime_is_ready(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    with sandbox(tmp_path, env={"BOOT_ID_FILE": str(id_file)}, timeout_s=5) as emulator:
        emulator.invoke(b"{}")
        assert len(id_file.read_text()) == 36  # registered during init
        status, error = register(emulator.runtime_api, b'{"events": ["INVOKE"]}', name="late")
        assert (status, error) == (403, {"errorType": "Extension.RegistrationClosed",
                                         "errorMessage": "Extension registration closed already"})
        assert emulator.invoke(b'{"n": 2}').body == b'{"n": 2}'  # nobody late holds it


def test_an_internal_extension_cannot_register_for_shutdown(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    with sandbox(tmp_path, env={"BOOT_ID_FILE": str(id_file), "BOOT_EVENTS": "INVOKE,SHUTDOWN"}) as emulator:
        emulator.invoke(b"{}")
    refused = id_file.read_text()
    assert refused.startswith("refused 403 ")
    assert json.loads(refused.split(" ", 2)[2]) == {
        "errorType": "Extension.InvalidEventType",
        "errorMessage": "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"}


# An external extension driven by its environment: notes "start PID" (and what it gets) in
# EXT_LOG; with EXT_LATE_S it registers that late, noting whether the runtime has started
# (BOOT_MARK, which the bootstrap creates); with EXT_INIT_ERROR_ONCE (a marker file not there
# yet) it creates the marker, posts /init/error, notes the answers to that and to /next, and
# exits; with EXT_CRASH_ONCE (a marker file not there yet) it creates the marker and exits 3
# when it gets an INVOKE, as an extension that crashes does.
LIFECYCLE_EXTENSION = """\
#!{python}
import json, os, sys, time, urllib.error, urllib.request
api, log = os.environ["AWS_LAMBDA_RUNTIME_API"], os.environ["EXT_LOG"]
def note(text):
    with open(log, "a") as f:
        f.write(text + "\\n")
note(f"start {{os.getpid()}}")
time.sleep(float(os.environ.get("EXT_LATE_S", "0")))
note(f"registering; runtime started: {{os.path.exists(os.environ.get('BOOT_MARK', '/nonexistent'))}}")
request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/register",
    data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(), method="POST",
    headers={{"Lambda-Extension-Name": os.path.basename(sys.argv[0])}})
with urllib.request.urlopen(request) as answer:
    identifier = answer.headers["Lambda-Extension-Identifier"]
def status(method, path, headers):
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/{{path}}", data=b"" if method == "POST"
                                     else None, method=method, headers={{"Lambda-Extension-Identifier": identifier, **headers}})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return f"{{refused.code}} {{json.loads(refused.read())['errorType']}}"
marker = os.environ.get("EXT_INIT_ERROR_ONCE")
if marker and not os.path.exists(marker):
    open(marker, "w").close()
    note(f"init/error without its header: {{status('POST', 'init/error', {{}})}}")
    note(f"init/error: {{status('POST', 'init/error', {{'Lambda-Extension-Function-Error-Type': 'Extension.Bad'}})}}")
    note(f"next after it: {{status('GET', 'event/next', {{}})}}")
    sys.exit(1)  # as AWS's documentation asks, it exits
while True:
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/event/next",
                                     headers={{"Lambda-Extension-Identifier": identifier}})
    with urllib.request.urlopen(request) as answer:
        event = json.loads(answer.read())
    note(event["eventType"])
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
    marker = os.environ.get("EXT_CRASH_ONCE")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
"""


def lifecycle_sandbox(tmp_path: Path, lines: list[str], env: dict[str, str],
                      timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    write_executable(tmp_path / "extensions" / "lifecycle", LIFECYCLE_EXTENSION.format(python=sys.executable))
    # Init's budget is not what these tests are about: under heavy load an extension slow to
    # register must not fail the first environment's init (whose extension then never gets
    # the INVOKE the test is about), so it is far from 10 s here.
    return sandbox(tmp_path, env={"EXT_LOG": str(tmp_path / "ext.log"), **env}, timeout_s=timeout_s,
                   extensions=tmp_path / "extensions", lines=lines, init_budget_s=60.0)


def starts(tmp_path: Path) -> int:
    return sum(line.startswith("start ") for line in (tmp_path / "ext.log").read_text().splitlines())


def test_an_extension_that_crashes_during_an_invocation_fails_it_and_the_environment_is_reset(
        tmp_path: Path) -> None:
    """The runtime never answers this event: only the crash can end it, with Lambda's
    Extension.Crash, not the 60 s timeout; the next invocation gets a fresh environment."""
    lines: list[str] = []
    with lifecycle_sandbox(tmp_path, lines, {"EXT_CRASH_ONCE": str(tmp_path / "crashed")}) as emulator:
        crashed = emulator.invoke(b'{"sleep": 3600}')
        assert crashed.function_error == "Unhandled"
        assert crashed.json() == {"errorType": "Extension.Crash",
                                  "errorMessage": f"RequestId: {crashed.request_id} Error: exit status 3"}
        after = emulator.invoke(b'{"n": 2}')
    assert after.body == b'{"n": 2}'
    assert starts(tmp_path) == 2  # re-initialised, extensions included
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {after.request_id}"))
    assert "Init Duration" in report and "Status: timeout" not in report


def test_an_extension_that_crashes_after_the_answer_does_not_hold_the_next_invocation(tmp_path: Path) -> None:
    """The runtime answers at once and the extension exits instead of calling /next again:
    the phase ends with the crash (it did wait for the timeout, then reported one), and the
    next invocation runs in a fresh environment."""
    lines: list[str] = []
    with lifecycle_sandbox(tmp_path, lines, {"EXT_CRASH_ONCE": str(tmp_path / "crashed")}) as emulator:
        first = emulator.invoke(b'{"n": 1}')
        assert first.body == b'{"n": 1}' or first.json()["errorType"] == "Extension.Crash"
        second = emulator.invoke(b'{"n": 2}')
    story = f"{first.body!r} {lines} {(tmp_path / 'ext.log').read_text()}"  # for a failure under load
    assert second.body == b'{"n": 2}', story
    assert not [line for line in lines if "Status: timeout" in line], story
    assert starts(tmp_path) == 2, story


def test_the_runtime_starts_once_every_external_extension_has_registered(tmp_path: Path) -> None:
    """Lambda's init: the extensions start and register, then the runtime starts; Init
    Duration includes the extensions' share (a lower bound: the extension waits 0.5 s)."""
    lines: list[str] = []
    env = {"EXT_LATE_S": "0.5", "BOOT_MARK": str(tmp_path / "runtime-started")}
    with lifecycle_sandbox(tmp_path, lines, env) as emulator:
        assert emulator.invoke(b'{"n": 1}').body == b'{"n": 1}'
    assert "registering; runtime started: False" in (tmp_path / "ext.log").read_text().splitlines()
    report = next(line for line in lines if line.startswith("REPORT "))
    init_ms = float(report.split("Init Duration: ")[1].split(" ms")[0])
    assert init_ms >= 500, report


def test_an_init_error_from_an_extension_fails_init_and_resets_the_environment(tmp_path: Path) -> None:
    """AWS's documentation: after /extension/init/error init fails and no further call of
    that extension succeeds; the caller gets AWS RIE's Extension.InitError (not the
    Extension.Crash of the exit that follows), and the next invocation re-initialises."""
    lines: list[str] = []
    with lifecycle_sandbox(tmp_path, lines, {"EXT_INIT_ERROR_ONCE": str(tmp_path / "reported")}) as emulator:
        failed = emulator.invoke(b'{"n": 1}')
        assert failed.function_error == "Unhandled"
        error = failed.json()
        assert error["errorType"] == "Extension.InitError" and "Extension.Bad" in error["errorMessage"], error
        after = emulator.invoke(b'{"n": 2}')
    assert after.body == b'{"n": 2}'
    notes = (tmp_path / "ext.log").read_text().splitlines()
    assert "init/error without its header: 403 Extension.MissingHeader" in notes
    assert "init/error: 202" in notes
    assert "next after it: 403 Extension.InvalidExtensionState" in notes
    assert starts(tmp_path) == 2


def test_platform_start_and_report_carry_the_tenant_id_and_the_first_report_the_init_duration(
        tmp_path: Path) -> None:
    with telemetry_sandbox(tmp_path) as emulator:
        first = emulator.invoke(b"{}", tenant_id="blue")
        second = emulator.invoke(b"{}")
    records = [e["record"] for e in noted(tmp_path) if "record" in e]

    def of(kind: str, request_id: str) -> dict[str, Any]:
        return next(r["record"] for r in records if r["type"] == kind and r["record"]["requestId"] == request_id)

    assert of("platform.start", first.request_id)["tenantId"] == "blue"
    assert of("platform.report", first.request_id)["tenantId"] == "blue"
    assert "tenantId" not in of("platform.start", second.request_id)
    assert of("platform.report", first.request_id)["metrics"]["initDurationMs"] > 0
    assert "initDurationMs" not in of("platform.report", second.request_id)["metrics"]
