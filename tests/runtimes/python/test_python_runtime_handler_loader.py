"""Handler strings and init errors: same errorType, message and trace as awslambdaric."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from awslambdaric import bootstrap as ric
from awslambdaric.lambda_runtime_exception import FaultException
from openruntime_python_runtime import errors
from openruntime_python_runtime.handler_loader import load_handler


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def unique(prefix: str) -> str:
    # Fresh module names: a module imported by one test must not satisfy another.
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ours_fault(handler: str) -> errors.FaultError:
    with pytest.raises(errors.FaultError) as info:
        load_handler(handler)
    return info.value


def theirs_fault(handler: str) -> FaultException:
    with pytest.raises(FaultException) as info:
        ric._get_handler(handler)
    return info.value


def assert_same_fault(handler: str, error_type: str) -> errors.FaultError:
    ours = ours_fault(handler)
    theirs = theirs_fault(handler)
    assert ours.error_type == theirs.exception_type == error_type
    assert ours.msg == theirs.msg
    assert (ours.trace or None) == (theirs.trace or None)
    return ours


def test_loads_the_function(task_root: Path) -> None:
    mod = unique("ok")
    write(task_root, f"{mod}.py", "def handler(event, context):\n    return event\n")
    handler = load_handler(f"{mod}.handler")
    assert handler({"a": 1}, None) == {"a": 1}


def test_slash_path_and_dotted_package(task_root: Path) -> None:
    pkg = unique("pkg")
    write(task_root, f"{pkg}/__init__.py", "")
    write(task_root, f"{pkg}/inner.py", "def handler(event, context):\n    return __name__\n")
    assert load_handler(f"{pkg}/inner.handler")(None, None) == f"{pkg}.inner"
    assert load_handler(f"{pkg}.inner.handler")(None, None) == f"{pkg}.inner"


def test_malformed_handler_name() -> None:
    fault = assert_same_fault("nodot", errors.MALFORMED_HANDLER_NAME)
    assert fault.msg == "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"


def test_empty_handler_is_malformed() -> None:
    assert_same_fault("", errors.MALFORMED_HANDLER_NAME)


def test_builtin_module_conflict() -> None:
    fault = assert_same_fault("sys.handler", errors.BUILT_IN_MODULE_CONFLICT)
    assert fault.msg == "Cannot use built-in module sys as a handler module"


def test_missing_module(task_root: Path) -> None:
    mod = unique("absent")
    fault = assert_same_fault(f"{mod}.handler", errors.IMPORT_MODULE_ERROR)
    assert fault.msg == f"Unable to import module '{mod}': No module named '{mod}'"


def test_module_whose_import_fails(task_root: Path) -> None:
    mod = unique("badimport")
    dep = unique("nodep")
    write(task_root, f"{mod}.py", f"import {dep}\n\ndef handler(e, c):\n    pass\n")
    fault = assert_same_fault(f"{mod}.handler", errors.IMPORT_MODULE_ERROR)
    assert fault.msg == f"Unable to import module '{mod}': No module named '{dep}'"


def test_missing_module_in_slash_path_keeps_the_slash_in_the_message(task_root: Path) -> None:
    mod = unique("dir")
    fault = assert_same_fault(f"{mod}/sub.handler", errors.IMPORT_MODULE_ERROR)
    assert fault.msg.startswith(f"Unable to import module '{mod}/sub': ")


def test_syntax_error(task_root: Path) -> None:
    mod = unique("syntax")
    write(task_root, f"{mod}.py", "def handler(event, context)\n    return 1\n")
    fault = assert_same_fault(f"{mod}.handler", errors.USER_CODE_SYNTAX_ERROR)
    assert fault.msg.startswith(f"Syntax error in module '{mod}': ")
    assert fault.trace == [f'  File "{task_root / (mod + ".py")}" Line 1\n    def handler(event, context)\n']


def test_indentation_error_is_a_syntax_error(task_root: Path) -> None:
    mod = unique("indent")
    write(task_root, f"{mod}.py", "def handler(event, context):\nreturn 1\n")
    assert_same_fault(f"{mod}.handler", errors.USER_CODE_SYNTAX_ERROR)


def test_handler_not_found(task_root: Path) -> None:
    mod = unique("nohandler")
    write(task_root, f"{mod}.py", "x = 1\n")
    fault = assert_same_fault(f"{mod}.missing", errors.HANDLER_NOT_FOUND)
    assert fault.msg == f"Handler 'missing' missing on module '{mod}'"


def init_error(make_runtime, handler: str) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    """What our runtime posts to /init/error for `handler`, and that it exits 1."""
    runtime, client = make_runtime()
    with pytest.raises(SystemExit) as info:
        runtime.init(handler)
    assert info.value.code == 1
    [(kind, post)] = client.posts
    assert kind == "init_error"
    return json.loads(post["body"]), post["error_type"]


def test_fault_is_posted_as_init_error(task_root: Path, make_runtime) -> None:  # type: ignore[no-untyped-def]
    mod = unique("nohandler")
    write(task_root, f"{mod}.py", "x = 1\n")
    body, header = init_error(make_runtime, f"{mod}.missing")
    theirs = theirs_fault(f"{mod}.missing")
    assert body == ric.make_error(theirs.msg, theirs.exception_type, theirs.trace)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert header == "Runtime.HandlerNotFound"


def test_other_exception_at_import_is_posted_with_user_frames_first(
    task_root: Path, make_runtime  # type: ignore[no-untyped-def]
) -> None:
    mod = unique("explodes")
    write(
        task_root,
        f"{mod}.py",
        "def load():\n    raise KeyError('DB_URL')\n\nload()\n\ndef handler(e, c):\n    pass\n",
    )
    ours, header = init_error(make_runtime, f"{mod}.handler")
    try:
        ric._get_handler(f"{mod}.handler")
    except KeyError:
        theirs = ric.build_fault_result(sys.exc_info(), None)
    else:
        pytest.fail("awslambdaric imported a module that raises")

    assert header == ours["errorType"] == theirs["errorType"] == "KeyError"
    assert ours["errorMessage"] == theirs["errorMessage"] == "'DB_URL'"
    assert ours["requestId"] == theirs["requestId"] == ""
    # awslambdaric keeps importlib's frames; ours start at the user's module. The user
    # frames themselves are identical.
    user_file = task_root / f"{mod}.py"
    assert ours["stackTrace"][0].startswith(f'  File "{user_file}", line 4, in <module>')
    assert ours["stackTrace"][1].startswith(f'  File "{user_file}", line 2, in load')
    assert len(ours["stackTrace"]) == 2
    assert theirs["stackTrace"][-2:] == ours["stackTrace"]
