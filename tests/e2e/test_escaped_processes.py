"""Nothing a middleware or handler starts outlives the sandbox, even in a session of its own.

A daemon made the classic way (fork, `setsid`, fork again, the middle process exits) is
reparented away from its parent: without a subreaper it lands under init, out of reach
of every tree walk and process-group kill. The orchestrator (and `invoke`/`serve`) are
subreapers, so it lands under them and ends with them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import alive, orchestrated, wait_gone, write_executable, write_pipeline

OPENRUNTIME = [sys.executable, "-m", "openruntime"]

# An exec middleware that leaves a detached daemon behind on every run, then answers as a
# pass-through. The daemon writes its pid to <pids>/<pid> and sleeps for `lifetime` seconds.
DAEMONIZING_MIDDLEWARE = """\
    #!{python}
    import os, sys, time
    payload = sys.stdin.buffer.read()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            open(os.path.join({pids!r}, str(os.getpid())), "w").close()
            time.sleep({lifetime})
            os._exit(0)
        os._exit(0)
    os.wait()
    sys.stdout.buffer.write(payload)
"""


def daemonizing_pipeline(folder: Path, lifetime: float) -> Path:
    pids = folder / "pids"
    pids.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return event\n")
    write_executable(folder / "middlewares" / "daemonize" / "daemonize",
                     DAEMONIZING_MIDDLEWARE.format(python=sys.executable, pids=str(pids), lifetime=lifetime))
    return write_pipeline(folder, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - {name: daemonize, hooks: [before]}
    """)


def daemon_pids(folder: Path, count: int, within_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while len(found := [int(p.name) for p in (folder / "pids").iterdir()]) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} daemons started"
        time.sleep(0.02)
    return found


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_a_daemon_a_middleware_detached_ends_with_invoke(tmp_path: Path) -> None:
    daemonizing_pipeline(tmp_path, lifetime=120)
    done = subprocess.run([*OPENRUNTIME, "invoke", "--pipeline", "pipeline.yml"], cwd=tmp_path,
                          input=b'{"a": 1}', capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    (daemon,) = daemon_pids(tmp_path, 1)
    assert wait_gone([daemon], within_s=3) == [], "the detached daemon outlived `openruntime invoke`"


def test_a_daemon_a_middleware_detached_ends_when_serve_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL to `serve`: the orchestrator hears of its parent's death (SIGTERM) and ends
    everything below it, the adopted daemon included."""
    daemonizing_pipeline(tmp_path, lifetime=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen([*OPENRUNTIME, "serve", "--port", str(port), "--pipeline", "pipeline.yml"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        deadline = time.monotonic() + 20
        while subprocess.run(["curl", "-sf", "-m", "10", "-d", "{}", url], capture_output=True).returncode:
            assert time.monotonic() < deadline and serve.poll() is None, "serve never answered"
            time.sleep(0.1)
        (daemon,) = daemon_pids(tmp_path, 1)
        assert alive(daemon)
        serve.kill()
        serve.wait(5)
        assert wait_gone([daemon], within_s=5) == [], "the detached daemon outlived a killed `serve`"
    finally:
        serve.kill()
        serve.wait(5)


def test_the_orchestrator_adopts_detached_daemons_and_reaps_them_when_they_exit(tmp_path: Path) -> None:
    """Each invocation leaves a short-lived daemon; the orchestrator is their parent (not
    init) while they run, and none is left a zombie once they have exited."""
    pipeline = daemonizing_pipeline(tmp_path, lifetime=0.3)
    with orchestrated(pipeline) as emulator:
        emulator.invoke(b"{}")
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None
        (first,) = daemon_pids(tmp_path, 1)
        if alive(first):
            assert parent_of(first) == orchestrator
        for _ in range(5):
            emulator.invoke(b"{}")
        daemons = daemon_pids(tmp_path, 6)
        assert wait_gone(daemons, within_s=5) == []
        # Reaped after an answer is posted, before the next /next: after two more, surely.
        emulator.invoke(b"{}")
        emulator.invoke(b"{}")
        zombies = [pid for pid in daemons if os.path.exists(f"/proc/{pid}")]
    assert zombies == [], f"daemons left as zombies of the orchestrator: {zombies}"


def test_a_daemon_the_handler_detached_ends_at_shutdown(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    (tmp_path / "app.py").write_text(
        "import os, time\n"
        "def handler(event, context):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close()\n"
        "            time.sleep(120)\n"
        "        os._exit(0)\n"
        "    os.wait()\n"
        "    return 'ok'\n")
    pipeline = write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with orchestrated(pipeline) as emulator:
        assert emulator.invoke(b"{}").body == b'"ok"'
        (daemon,) = daemon_pids(tmp_path, 1)
        assert parent_of(daemon) == emulator.runtime_pid  # adopted by the orchestrator, not init
        os.kill(emulator.runtime_pid, signal.SIGTERM)
        assert wait_gone([daemon], within_s=5) == []
