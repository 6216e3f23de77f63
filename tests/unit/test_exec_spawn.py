"""How an exec middleware is started (processes.spawn_piped) and waited for, driven
directly with real processes: what it inherits, what it finds, what it gets back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from openruntime import short_slice
from openruntime.config import MiddlewareConfig
from openruntime.errors import MiddlewareFailure
from openruntime.invocation import Invocation
from openruntime.middleware.exec import ExecMiddleware
from openruntime.middleware.protocol import InvocationScope
from tests.conftest import REPO, write_executable


def invocation(body: bytes = b"{}") -> Invocation:
    return Invocation("req-1", int(time.time() * 1000) + 60_000, "arn:fn", None, None, "application/json", body)


def run(mw: ExecMiddleware, payload: bytes = b"{}", content_type: str = "application/json",
        scope: InvocationScope | None = None) -> bytes:
    return mw.call("before", payload, content_type, invocation(payload), scope or InvocationScope(), 10.0).payload


def exec_mw(path: Path, name: str = "mw", **config: object) -> ExecMiddleware:
    return ExecMiddleware(MiddlewareConfig(name=name, **config), [str(path)], dict(os.environ))  # type: ignore[arg-type]


def driver(script: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """`script` in a Python process of its own (a subreaper, an inherited descriptor: what
    this test process must not become or have)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, **kwargs)  # type: ignore[call-overload]


def test_statuses_hold_while_another_thread_reaps_orphans(tmp_path: Path) -> None:
    """Managed Instances mode: one poller sweeps orphans after its invocation while another
    starts an exec middleware. The sweep must never reap that middleware, not even in the
    instant between its spawn and its registration: its status would be lost, and a lost
    status reads as 0 ("continue" instead of "respond", "fail" or a crash). `false` exits
    at once; a busy thread widens the window as a loaded machine does."""
    false = shutil.which("false")
    assert false is not None
    done = driver(f"""
        import collections, json, os, sys, threading, time
        from openruntime.config import MiddlewareConfig
        from openruntime.errors import MiddlewareFailure
        from openruntime.invocation import Invocation
        from openruntime.middleware.exec import ExecMiddleware
        from openruntime.middleware.protocol import InvocationScope
        from openruntime.processes import become_subreaper, reap_orphans

        assert become_subreaper()
        sys.setswitchinterval(0.0002)  # the busy thread hands the GIL back soon
        stop = threading.Event()
        def sweep():
            while not stop.is_set():
                reap_orphans()
        def burn():
            while not stop.is_set():
                pass
        for work in (sweep, burn):
            threading.Thread(target=work, daemon=True).start()
        mw = ExecMiddleware(MiddlewareConfig(name="false"), [{false!r}], dict(os.environ))
        outcomes = collections.Counter()
        for i in range(300):
            inv = Invocation("r", int(time.time() * 1000) + 60_000, "arn", None, None, "text/plain", b"x")
            try:
                mw.call("before", b"x", "text/plain", inv, InvocationScope(), 10.0)
                outcomes["continue"] += 1
            except MiddlewareFailure as failure:
                outcomes[failure.details.get("exitStatus", failure.error_type)] += 1
        stop.set()
        print(json.dumps(outcomes))
    """)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"1": 300}


def test_a_descriptor_the_orchestrator_inherited_does_not_reach_the_middleware(tmp_path: Path) -> None:
    """Lambda may hand the bootstrap descriptors of its own; a middleware gets 0-2 only."""
    exe = write_executable(tmp_path / "fds", """
        #!/bin/sh
        cat > /dev/null
        if [ -e /proc/$$/fd/47 ]; then printf '"inherited"'; else printf '"closed"'; fi
    """)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 47, inheritable=True)
    try:
        done = driver(f"""
            import os, time
            from openruntime.config import MiddlewareConfig
            from openruntime.invocation import Invocation
            from openruntime.middleware.exec import ExecMiddleware
            from openruntime.middleware.protocol import InvocationScope
            assert os.get_inheritable(47)  # what the test hands this process
            mw = ExecMiddleware(MiddlewareConfig(name="fds"), [{str(exe)!r}], dict(os.environ))
            inv = Invocation("r", int(time.time() * 1000) + 60_000, "arn", None, None, "application/json", b"{{}}")
            print(mw.call("before", b"{{}}", "application/json", inv, InvocationScope(), 10.0).payload.decode())
        """, pass_fds=(47,))
    finally:
        for fd in (read_end, write_end, 47):
            os.close(fd)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '"closed"'


def test_sigpipe_is_back_at_its_default_in_the_middleware(tmp_path: Path) -> None:
    """Python ignores SIGPIPE, and an ignored signal stays ignored across exec: a shell
    pipeline (`producer | head -1`) would then never end its producer."""
    exe = write_executable(tmp_path / "traps", "#!/bin/bash\ncat > /dev/null\nprintf '\"%s\"' \"$(trap -p PIPE)\"\n")
    assert run(exec_mw(exe)) == b'""'


def test_a_program_named_without_a_folder_is_found_on_the_path_its_entry_gives(tmp_path: Path) -> None:
    bin_dir = tmp_path / "tools"
    write_executable(bin_dir / "or-test-tool", "#!/bin/sh\ncat > /dev/null\nprintf '{\"found\": true}'\n")
    mw = ExecMiddleware(MiddlewareConfig(name="tool", env={"PATH": f"{bin_dir}:/usr/bin:/bin"}),
                        ["or-test-tool"], dict(os.environ))
    assert run(mw) == b'{"found": true}'
    missing = ExecMiddleware(MiddlewareConfig(name="tool"), ["or-no-such-tool"], dict(os.environ))
    with pytest.raises(MiddlewareFailure) as failure:
        run(missing)
    assert failure.value.error_type == "Middleware.ExitError"
    assert failure.value.message == ("middleware 'tool' hook 'before' could not start: "
                                     "[Errno 2] No such file or directory: 'or-no-such-tool'")


def test_a_script_without_an_interpreter_line_cannot_start(tmp_path: Path) -> None:
    exe = write_executable(tmp_path / "noshebang", "echo hello\n")
    with pytest.raises(MiddlewareFailure) as failure:
        run(exec_mw(exe, "noshebang"))
    assert "could not start: [Errno 8] Exec format error" in failure.value.message


@pytest.mark.parametrize("size", [0, 1, 65_536, 65_537, 1_048_576, 3_000_000])
def test_inputs_around_the_pipe_sizes_arrive_whole(tmp_path: Path, size: int) -> None:
    """The input goes into STDIN before the program starts, as much as the pipe takes
    (64 KiB, 1 MiB once enlarged); the rest follows as the program reads."""
    exe = write_executable(tmp_path / "cat", "#!/bin/sh\nexec cat\n")
    payload = os.urandom(size)
    assert run(exec_mw(exe, "cat"), payload, "application/octet-stream") == payload


def test_a_quick_program_with_more_output_than_a_pipe_holds_is_read_whole(tmp_path: Path) -> None:
    """A small input, a large answer: the program blocks on its full STDOUT until it is read."""
    exe = write_executable(tmp_path / "big", "#!/bin/sh\ncat > /dev/null\nhead -c 1048576 /dev/zero | tr '\\0' a\n")
    assert run(exec_mw(exe, "big"), b"{}", "text/plain") == b"a" * 1_048_576


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 65_537, 200_000])
def test_outputs_around_the_pipe_size_come_back_whole(tmp_path: Path, size: int) -> None:
    """A quick program's STDOUT is read once it exited, a read at a time until one comes
    back short; a bigger one blocks on its full pipe until the call reads as it comes."""
    exe = write_executable(tmp_path / "many", f"#!/bin/sh\ncat > /dev/null\nhead -c {size} /dev/zero | tr '\\0' b\n")
    assert run(exec_mw(exe, "many"), b"{}", "application/octet-stream") == b"b" * size


def test_output_written_in_packet_mode_comes_back_whole(tmp_path: Path) -> None:
    """A program may put its STDOUT in packet mode (O_DIRECT: `dd oflag=direct`); then each
    read returns one write, so a short read does not mean the pipe is empty."""
    exe = write_executable(tmp_path / "packets", "#!/bin/sh\ncat > /dev/null\n"
                           "printf 0123456789abcdef | dd oflag=direct bs=4 status=none\necho ' and more'\n")
    for _ in range(3):
        assert run(exec_mw(exe, "packets"), b"{}", "text/plain") == b"0123456789abcdef and more"


def test_a_hook_that_fills_a_pipe_is_watched_and_bet_on_less_and_less_often(tmp_path: Path) -> None:
    """A call is first waited for by its exit alone (a bet on a quick exit); a program that
    blocks on a full pipe loses the bet, and the next 2, then 4, ... calls of that hook read
    as it writes. A win starts afresh; each hook has its own bet."""
    size_file = tmp_path / "size"
    exe = write_executable(tmp_path / "sized", f"#!/bin/sh\ncat > /dev/null\nhead -c $(cat {size_file}) /dev/zero\n")
    mw = exec_mw(exe, "sized", hooks=("before", "after"))
    bet = mw.bets["before"]
    big = 2 << 20  # more than a pipe holds, with 4 KiB pages (64 KiB) or 64 KiB pages (1 MiB)
    size_file.write_text(str(big))
    states = []
    for _ in range(4):
        assert run(mw, b"{}", "application/octet-stream") == bytes(big)
        states.append((bet.lost, bet.watch))
    assert states == [(1, 2), (1, 1), (1, 0), (2, 4)]
    size_file.write_text("10")
    for _ in range(4):  # still watched: the bet was lost twice in a row
        assert run(mw, b"{}", "application/octet-stream") == bytes(10)
    assert (bet.lost, bet.watch) == (2, 0)
    for _ in range(200):  # a quick exit within QUICK_EXIT_S, which a loaded machine may miss a few times
        assert run(mw, b"{}", "application/octet-stream") == bytes(10)
        if bet.lost == 0:
            break
    assert (bet.lost, bet.watch) == (0, 0)
    assert (mw.bets["after"].lost, mw.bets["after"].watch) == (0, 0)


def test_an_orchestrator_without_stdin_stdout_and_stderr_still_gives_a_middleware_its_pipes(
    tmp_path: Path,
) -> None:
    """With descriptors 0-2 closed, the call's pipes take those numbers (the parent's ends
    among them); the middleware still gets its input, and the call its output and status."""
    exe = write_executable(tmp_path / "echo-both", "#!/bin/sh\ncat\necho to-stderr >&2\nexit 3\n")
    report = tmp_path / "report.json"
    done = driver(f"""
        import json, os, time
        from openruntime.config import MiddlewareConfig
        from openruntime.invocation import Invocation
        from openruntime.middleware.exec import ExecMiddleware
        from openruntime.middleware.protocol import InvocationScope
        for fd in (0, 1, 2):
            os.close(fd)
        mw = ExecMiddleware(MiddlewareConfig(name="both"), [{str(exe)!r}], dict(os.environ))
        body = b'{{"hello": "world"}}'
        inv = Invocation("req-1", int(time.time() * 1000) + 60_000, "arn:fn", None, None, "application/json", body)
        result = mw.call("before", body, "application/json", inv, InvocationScope(), 10.0)
        with open({str(report)!r}, "w") as out:
            json.dump({{"payload": result.payload.decode(), "respond": result.respond}}, out)
    """)
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text()) == {"payload": '{"hello": "world"}', "respond": True}


def test_each_invocation_has_a_state_file_of_its_own_and_finds_it_empty(tmp_path: Path) -> None:
    exe = write_executable(tmp_path / "keeps", """
        #!/bin/sh
        seen=$(cat "$OPENRUNTIME_STATE_FILE")
        cat > /dev/null
        printf 'kept by %s' "$OPENRUNTIME_STATE_FILE" > "$OPENRUNTIME_STATE_FILE"
        printf '["%s", "%s"]' "$OPENRUNTIME_STATE_FILE" "$seen"
    """)
    mw = exec_mw(exe, "keeps")
    first, second = InvocationScope(), InvocationScope()  # two at once (Managed Instances)
    path, seen = json.loads(run(mw, scope=first))
    other, other_seen = json.loads(run(mw, scope=second))
    assert path != other and Path(path).parent == Path(other).parent  # one folder, a file each
    assert (seen, other_seen) == ("", "")
    assert Path(path).read_text() == f"kept by {path}"
    first.close()
    second.close()
    for _ in range(3):  # later invocations: whichever file they get, it is empty
        scope = InvocationScope()
        path, seen = json.loads(run(mw, scope=scope))
        assert seen == ""
        scope.close()


def test_a_state_file_made_into_a_link_is_removed_not_followed(tmp_path: Path) -> None:
    """What the middleware made of its state file is not emptied through a link, nor handed
    to the next invocation."""
    target = tmp_path / "elsewhere"
    target.write_text("precious")
    exe = write_executable(tmp_path / "links", f"""
        #!/bin/sh
        cat > /dev/null
        rm "$OPENRUNTIME_STATE_FILE"
        ln -s {target} "$OPENRUNTIME_STATE_FILE"
        printf '"%s"' "$OPENRUNTIME_STATE_FILE"
    """)
    scope = InvocationScope()
    link = Path(json.loads(run(exec_mw(exe, "links"), scope=scope)))
    assert link.is_symlink()
    scope.close()
    assert not link.exists() and not link.is_symlink()
    assert target.read_text() == "precious"
    scope = InvocationScope()
    assert scope.state_file("links") != str(link)
    scope.close()


def test_a_process_left_behind_cannot_write_into_a_later_invocations_state(tmp_path: Path) -> None:
    """A middleware's daemon (its own session: the call's group kill misses it) that keeps
    writing to the state file writes to a deleted file, never to the next invocation's."""
    exe = write_executable(tmp_path / "lingers", f"""
        #!/bin/sh
        cat > /dev/null
        if [ "$OPENRUNTIME_HOOK" = before ]; then
          rm -f {tmp_path}/detached
          setsid sh -c 'exec 3>>"$OPENRUNTIME_STATE_FILE"; touch {tmp_path}/detached; sleep 0.4
                        echo late >&3; echo late >> "$OPENRUNTIME_STATE_FILE"' > /dev/null 2>&1 < /dev/null &
          until [ -e {tmp_path}/detached ]; do sleep 0.01; done  # in its own session: out of reach
          printf '{{}}'
        else
          printf '{{"state": "%s"}}' "$(tr '\\n' ' ' < "$OPENRUNTIME_STATE_FILE")"
        fi
    """)
    mw = exec_mw(exe, "lingers")
    first = InvocationScope()
    mw.call("before", b"{}", "application/json", invocation(), first, 10.0)
    first.close()
    second = InvocationScope()
    second.state_file("lingers")
    time.sleep(0.8)  # the first invocation's daemon has written by now
    after = mw.call("after", b"{}", "application/json", invocation(), second, 10.0).payload
    second.close()
    assert json.loads(after) == {"state": ""}


def test_a_middleware_that_removes_the_state_folder_breaks_nothing_after_it(tmp_path: Path) -> None:
    wipes = write_executable(tmp_path / "wipes", """
        #!/bin/sh
        cat > /dev/null
        rm -rf "$(dirname "$OPENRUNTIME_STATE_FILE")"
        printf '{}'
    """)
    keeps = write_executable(tmp_path / "keeps", """
        #!/bin/sh
        cat > /dev/null
        test -f "$OPENRUNTIME_STATE_FILE" && printf '{"state file": true}'
    """)
    scope = InvocationScope()
    assert run(exec_mw(wipes, "wipes"), scope=scope) == b"{}"
    scope.close()
    for _ in range(2):
        scope = InvocationScope()
        assert run(exec_mw(keeps, "keeps"), scope=scope) == b'{"state file": true}'
        scope.close()


def _slice_ns(sched: str) -> int | None:
    """se.slice from a /proc/<pid>/sched text, in ns (None where the kernel does not say)."""
    for line in sched.splitlines():
        if line.startswith("se.slice"):
            return int(float(line.split(":", 1)[1]))
    return None


custom_slices = pytest.mark.skipif(
    os.uname().machine not in ("x86_64", "aarch64") or not short_slice._kernel_at_least(os.uname().release, (6, 12))
    or _slice_ns(Path("/proc/thread-self/sched").read_text()) is None,
    reason="custom slices (sched_setattr's sched_runtime for SCHED_OTHER) need Linux 6.12+ on x86_64 or aarch64",
)


@custom_slices
def test_an_exec_middleware_starts_on_a_short_slice_and_the_spawning_thread_keeps_its_own(tmp_path: Path) -> None:
    """With every CPU busy, an exec'd program waited a scheduler tick (4 ms) behind a
    CPU-bound neighbour before it ran; one on a shorter slice preempts it (short_slice.py)."""
    reports = write_executable(tmp_path / "reports", """
        #!/bin/sh
        cat > /dev/null
        printf '{"slice": %s}' "$(sed -n 's/^se\\.slice *: *//p' /proc/$$/sched)"
    """)
    own_before = _slice_ns(Path("/proc/thread-self/sched").read_text())
    assert json.loads(run(exec_mw(reports))) == {"slice": short_slice.SLICE_NS}
    assert _slice_ns(Path("/proc/thread-self/sched").read_text()) == own_before != short_slice.SLICE_NS


@pytest.mark.parametrize(("release", "at_least_6_12"), [
    ("6.18.44-fc-v1300", True), ("6.12.0", True), ("7.0-rc1", True), ("6.11.9", False),
    ("5.10.226-214.880.amzn2.x86_64", False), ("6", False), ("custom", False),
])
def test_the_kernel_release_decides_whether_a_short_slice_is_asked_for(release: str, at_least_6_12: bool) -> None:
    assert short_slice._kernel_at_least(release, (6, 12)) is at_least_6_12


REPORTS_SLICE_AND_NICE = """
    import json, os, sys, threading
    from openruntime.processes import spawn_piped
    from openruntime.middleware.exec import _exchange
    from openruntime.middleware.stderr_lines import StderrLines

    def slice_ns(path):  # None for a real-time task
        return next((int(float(l.split(":", 1)[1])) for l in open(path) if l.startswith("se.slice")), None)

    def child_report():
        # the child's own slice, nice (field 19 of /proc/PID/stat) and policy (field 41)
        # (a real-time task's /proc/PID/sched has no se.slice)
        script = 'cut -d" " -f19,41 /proc/$$/stat; sed -n "s/^se.slice *: *//p" /proc/$$/sched'
        child = spawn_piped(["sh", "-c", script], dict(os.environ))
        out, _, _ = _exchange(child, b"", 10.0, StderrLines("t", lambda line: None), 1 << 20)
        child.process.wait(); child.close_pipes()
        fields = [int(float(field)) for field in out.decode().split()]
        return {"nice": fields[0], "policy": fields[1], "slice": fields[2] if len(fields) > 2 else None}

    def own():
        return {"slice": slice_ns("/proc/thread-self/sched"), "nice": os.getpriority(os.PRIO_PROCESS, 0),
                "policy": os.sched_getscheduler(0)}
"""


@custom_slices
def test_a_reniced_spawning_thread_keeps_its_nice_and_its_child_gets_it_too() -> None:
    """sched_setattr sets a thread's nice as well as its slice: the thread's own must be
    what it writes, or a spawn would renice the orchestrator."""
    result = driver(REPORTS_SLICE_AND_NICE + """
    default = own()["slice"]
    os.nice(5)
    print(json.dumps({"child": child_report(), "own": own(), "default": default}))
    """)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["child"] == {"slice": 100_000, "nice": 5, "policy": 0}
    assert seen["own"] == {"slice": seen["default"], "nice": 5, "policy": 0}


@custom_slices
@pytest.mark.skipif(os.geteuid() != 0, reason="a real-time thread needs CAP_SYS_NICE")
def test_a_real_time_thread_spawns_as_before_and_other_threads_still_get_the_short_slice() -> None:
    """The kernel refuses a slice for a SCHED_FIFO thread: that refusal is the thread's,
    not the process's."""
    result = driver(REPORTS_SLICE_AND_NICE + """
    seen = {}
    def real_time():
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        seen["real-time child"], seen["real-time own"] = child_report(), own()
    thread = threading.Thread(target=real_time)
    thread.start(); thread.join()
    seen["later child"] = child_report()
    print(json.dumps(seen))
    """)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["real-time child"]["policy"] == os.SCHED_FIFO == seen["real-time own"]["policy"]
    assert seen["later child"] == {"slice": 100_000, "nice": 0, "policy": 0}


@custom_slices
def test_threads_spawning_at_once_each_get_their_default_slice_back() -> None:
    """Managed Instances mode: several pollers spawn exec middlewares side by side."""
    result = driver(REPORTS_SLICE_AND_NICE + """
    default = own()["slice"]
    seen = []
    def spawns():
        children = {child_report()["slice"] for _ in range(40)}
        seen.append((sorted(children), own()["slice"]))
    threads = [threading.Thread(target=spawns) for _ in range(4)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    print(json.dumps({"seen": seen, "default": default}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["seen"] == [[[100_000], report["default"]]] * 4


@custom_slices
def test_a_thread_mid_spawn_gets_its_slice_back_when_another_turns_the_short_slice_off() -> None:
    """One thread's refusal (or failure) turns the feature off for the process; a thread
    already inside its spawn must still go back to the default, with the call it used."""
    default = _slice_ns(Path("/proc/thread-self/sched").read_text())
    with short_slice.short_slice():
        assert _slice_ns(Path("/proc/thread-self/sched").read_text()) == short_slice.SLICE_NS
        saved, short_slice._setattr = short_slice._setattr, False
    try:
        assert _slice_ns(Path("/proc/thread-self/sched").read_text()) == default
    finally:
        short_slice._setattr = saved


def test_prctl_reports_its_failure_as_minus_one() -> None:
    from openruntime.processes import _prctl

    prctl = _prctl()
    assert prctl is not None and prctl(9999, 0, 0, 0, 0) == -1
