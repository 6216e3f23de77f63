"""Pipeline file validation: every error names the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from openruntime.config import ConfigError, load_pipeline, parse_pipeline


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_pipeline(textwrap.dedent(text).lstrip(), "p.yml", "/base")


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


def test_full_pipeline_parses_with_defaults() -> None:
    pipeline = parse("""
        runtime:
          command: [python3, -m, awslambdaric]
          handler: app.handler
          task_root: ./fn
          env: {A: 1}
        middlewares:
          - log
          - name: auth
            command: ./mw/auth --strict
            hooks: [before, error]
            mode: persistent
            timeout_ms: 250
            on_error: skip
            env: {LEVEL: debug}
            env_allow: [HOME]
    """)
    assert pipeline.runtime.command == ("python3", "-m", "awslambdaric")
    assert pipeline.runtime.env == {"A": "1"}
    assert pipeline.resolve_path(pipeline.runtime.task_root or "") == "/base/fn"
    log, auth = pipeline.middlewares
    assert (log.name, log.hooks, log.mode, log.on_error) == ("log", ("before", "after"), "exec", "fail")
    assert auth.command == ("./mw/auth", "--strict")
    assert pipeline.resolve_command(auth.command) == ["/base/mw/auth", "--strict"]
    assert pipeline.resolve_command(("python3", "x.py")) == ["python3", "x.py"]  # a name stays on PATH
    assert (auth.hooks, auth.mode, auth.timeout_ms, auth.on_error) == (("before", "error"), "persistent", 250, "skip")
    assert auth.env_allow == ("HOME",)


@pytest.mark.parametrize("text, expected", [
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    timeout_ms: fast\n",
     "p.yml:4: middlewares[0].timeout_ms: expected a whole number, got str 'fast'"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    mode: forever\n",
     "p.yml:4: middlewares[0].mode: expected one of exec, persistent, got 'forever'"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    hoks: [before]\n",
     "p.yml:4: middlewares[0].hoks: unknown field; expected one of:"),
    ("runtime:\n  handler: x.y\n", "p.yml:2: runtime: expected exactly one of 'name' (a bundled runtime) or 'command'"),
    ("middlewares: []\n", "p.yml:1: runtime: missing"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n  - name: a\n", "p.yml:4: middlewares[1].name: the name 'a' is used twice"),
    ("runtime: {name: python}\nmiddlewares:\n  - command: ./x\n", "p.yml:3: middlewares[0].name: missing"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    timeout_ms: 0\n", "p.yml:4: middlewares[0].timeout_ms: expected a number >= 1, got 0"),
    ("runtime: {name: [python]}\n", "p.yml:1: runtime.name: expected a non-empty string, got a list"),
    ("runtime: {name: python\n", "p.yml:2: not valid YAML"),
    ("", "p.yml:1: the file is empty"),
    ("- just\n- a list\n", "p.yml:1: (top level): expected a mapping, got a list"),
])
def test_errors_name_line_and_field(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pipeline file not found"):
        load_pipeline(tmp_path / "nope.yml")


def test_compiled_json_round_trip_keeps_paths_relative(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yml"
    source.write_text("runtime: {name: node, handler: index.handler}\nmiddlewares:\n  - {name: a, command: ./a, env_allow: [X]}\n")
    original = load_pipeline(source)
    layer = tmp_path / "layer"
    layer.mkdir()
    compiled = layer / "pipeline.json"
    compiled.write_text(original.to_json())
    loaded = load_pipeline(compiled)
    assert loaded.runtime == original.runtime
    assert loaded.middlewares == original.middlewares
    assert loaded.resolve_command(loaded.middlewares[0].command or ()) == [str(layer / "a")]


def test_where_names_file_line_and_field_of_each_setting(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yml"
    source.write_text(textwrap.dedent("""\
        runtime:
          name: python
          env:
            A: "1"
        middlewares:
          - log
          - name: auth
            command: ./auth
    """))
    pipeline = load_pipeline(source)
    assert pipeline.where("runtime.name") == f"{source}:2: runtime.name"
    assert pipeline.where("runtime.env.A") == f"{source}:4: runtime.env.A"
    assert pipeline.where(pipeline.middleware_field("log", "name")) == f"{source}:6: middlewares[0].name"
    assert pipeline.where(pipeline.middleware_field("auth", "command")) == f"{source}:8: middlewares[1].command"
    # not written in the file: the closest written parent gives the line
    assert pipeline.where("runtime.task_root") == f"{source}:1: runtime.task_root"
    assert pipeline.where(pipeline.middleware_field("log", "command")) == f"{source}:6: middlewares[0].command"


def test_compiled_pipeline_equals_its_source_and_names_file_and_field(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yml"
    source.write_text("runtime: {name: python}\nmiddlewares: [a]\n")
    compiled = tmp_path / "pipeline.json"
    compiled.write_text(load_pipeline(source).to_json())
    loaded = load_pipeline(compiled)
    assert loaded == load_pipeline(source).replace(source=str(compiled))  # lines are no field
    assert loaded.where("middlewares[0].name") == f"{compiled}: middlewares[0].name"
