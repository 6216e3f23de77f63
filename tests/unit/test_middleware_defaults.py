"""A name-only pipeline entry gets the hooks and mode its middleware declares in
`middleware.json`; what the entry writes wins; a malformed file is an error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openruntime.config import load_pipeline
from openruntime.errors import ConfigError
from tests.conftest import write_executable


def pipeline_file(folder: Path, middlewares: str) -> Path:
    path = folder / "pipeline.yml"
    path.write_text("runtime: {name: python, handler: app.handler}\nmiddlewares:\n" + middlewares)
    return path


def own_middleware(folder: Path, name: str, defaults: object | None) -> None:
    write_executable(folder / "middlewares" / name / name, "#!/bin/sh\ncat\n")
    if defaults is not None:
        text = defaults if isinstance(defaults, str) else json.dumps(defaults)
        (folder / "middlewares" / name / "middleware.json").write_text(text)


def test_built_ins_by_name_get_the_hooks_and_mode_they_are_written_for(tmp_path: Path) -> None:
    pipeline = load_pipeline(pipeline_file(tmp_path, "  - log\n  - http\n  - metrics\n  - stamp\n"))
    got = {m.name: (m.hooks, m.mode) for m in pipeline.middlewares}
    assert got["http"] == (("before", "after", "error"), "persistent")  # its error hook turns a raise into a 500
    assert got["log"] == (("before", "after", "error"), "persistent")
    assert got["metrics"] == (("done",), "persistent")  # an observer: once the answer is posted
    assert got["stamp"] == (("before", "after"), "exec")  # no middleware.json: the generic defaults


def test_what_the_entry_writes_wins_field_by_field(tmp_path: Path) -> None:
    pipeline = load_pipeline(pipeline_file(tmp_path, "  - name: http\n    mode: exec\n"
                                                     "  - name: log\n    hooks: [before]\n"))
    http, log = pipeline.middlewares
    assert (http.hooks, http.mode) == (("before", "after", "error"), "exec")
    assert (log.hooks, log.mode) == (("before",), "persistent")


def test_a_folder_of_your_own_declares_its_defaults_and_wins_over_the_built_in(tmp_path: Path) -> None:
    own_middleware(tmp_path, "http", {"hooks": ["before"], "mode": "exec"})
    own_middleware(tmp_path, "mine", {"hooks": ["after", "error"], "mode": "persistent"})
    pipeline = load_pipeline(pipeline_file(tmp_path, "  - http\n  - mine\n"))
    assert [(m.hooks, m.mode) for m in pipeline.middlewares] == [
        (("before",), "exec"), (("after", "error"), "persistent")]


def test_a_middleware_that_is_a_file_among_others_has_no_defaults_file(tmp_path: Path) -> None:
    """`middlewares/mine` (no folder of its own): a middleware.json beside it is not its."""
    write_executable(tmp_path / "middlewares" / "mine", "#!/bin/sh\ncat\n")
    (tmp_path / "middlewares" / "middleware.json").write_text('{"mode": "persistent"}')
    [mine] = load_pipeline(pipeline_file(tmp_path, "  - mine\n")).middlewares
    assert (mine.hooks, mine.mode) == (("before", "after"), "exec")


def test_the_compiled_form_carries_the_resolved_values(tmp_path: Path) -> None:
    compiled = tmp_path / "pipeline.json"
    compiled.write_text(load_pipeline(pipeline_file(tmp_path, "  - http\n")).to_json())
    own_middleware(tmp_path, "http", {"hooks": ["before"]})  # read when it was compiled, not now
    [http] = load_pipeline(compiled).middlewares
    assert (http.hooks, http.mode) == (("before", "after", "error"), "persistent")


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not JSON"),
    ('["before"]', "expected an object"),
    ({"hooks": ["befor"]}, "hooks: expected a non-empty list of before, after, error"),
    ({"hooks": []}, "hooks: expected a non-empty list"),
    ({"mode": "daemon"}, "mode: expected one of exec, persistent"),
    ({"timeout_ms": 5}, "timeout_ms: not a default a middleware can declare"),
])
def test_a_malformed_middleware_json_is_an_error_naming_the_file(tmp_path: Path, content: object, says: str) -> None:
    own_middleware(tmp_path, "mine", content)
    with pytest.raises(ConfigError) as caught:
        load_pipeline(pipeline_file(tmp_path, "  - mine\n"))
    message = str(caught.value)
    assert str(tmp_path / "middlewares" / "mine" / "middleware.json") in message and says in message, message


def test_an_entry_that_writes_both_never_reads_the_file(tmp_path: Path) -> None:
    own_middleware(tmp_path, "mine", "{broken")
    [mine] = load_pipeline(pipeline_file(tmp_path, "  - name: mine\n    hooks: [before]\n    mode: exec\n")).middlewares
    assert (mine.hooks, mine.mode) == (("before",), "exec")


def test_the_original_slsmiddlewares_names_get_their_defaults_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openruntime.config import pipeline_from_env

    monkeypatch.chdir(tmp_path)
    own_middleware(tmp_path, "mine", None)  # an original exec middleware: the generic defaults
    pipeline = pipeline_from_env({"SLSMIDDLEWARES": "http,mine"})
    assert [(m.name, m.hooks, m.mode) for m in pipeline.middlewares] == [
        ("http", ("before", "after", "error"), "persistent"), ("mine", ("before", "after"), "exec")]
