"""How an exec middleware is started (processes.spawn_piped) and waited for, driven
directly with real processes: what it inherits, what it finds, what it gets back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

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
    waits for its exec middleware. The sweep must never reap that middleware: its status
    (3: respond, 4: its own error) would be lost, and Popen reads a lost status as 0."""
    exe = write_executable(tmp_path / "answers", """
        #!/bin/sh
        case $(cat) in
          respond) printf '{"answered": true}'; exit 3 ;;
          *) printf '{"errorType": "Denied", "errorMessage": "no"}'; exit 4 ;;
        esac
    """)
    done = driver(f"""
        import json, os, threading, time
        from openruntime.config import MiddlewareConfig
        from openruntime.errors import MiddlewareFailure
        from openruntime.invocation import Invocation
        from openruntime.middleware.exec import ExecMiddleware
        from openruntime.middleware.protocol import InvocationScope
        from openruntime.processes import become_subreaper, reap_orphans

        assert become_subreaper()
        stop = threading.Event()
        def sweep():
            while not stop.is_set():
                reap_orphans()
        threading.Thread(target=sweep, daemon=True).start()
        mw = ExecMiddleware(MiddlewareConfig(name="answers"), [{str(exe)!r}], dict(os.environ))
        wrong = []
        for i in range(150):
            payload = b"respond" if i % 2 else b"fail"
            inv = Invocation("r", int(time.time() * 1000) + 60_000, "arn", None, None, "text/plain", payload)
            try:
                result = mw.call("before", payload, "text/plain", inv, InvocationScope(), 10.0)
                outcome = "respond" if result.respond else "continue: " + result.payload.decode()
            except MiddlewareFailure as failure:
                outcome = "fail" if failure.error_type == "Denied" else failure.error_type
            if outcome != payload.decode():
                wrong.append(outcome)
        stop.set()
        print(json.dumps(wrong))
    """)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


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
