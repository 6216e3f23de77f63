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
     "p.yml:4: middlewares[0].hoks: unknown field (did you mean 'hooks'?); expected one of:"),
    ("runtime:\n  handler: x.y\n", "p.yml:2: runtime: expected exactly one of 'name' (a bundled runtime) or 'command'"),
    ("middlewares: []\n", "p.yml:1: runtime: missing"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n  - name: a\n", "p.yml:4: middlewares[1].name: the name 'a' is used twice"),
    ("runtime: {name: python}\nmiddlewares:\n  - command: ./x\n", "p.yml:3: middlewares[0].name: missing"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    timeout_ms: 0\n",
     "p.yml:4: middlewares[0].timeout_ms: expected a number from 1 to 900000, got 0"),
    # YAML 1.1's octal and sexagesimal forms, and numbers nobody means, are refused by line.
    ("runtime: {name: python, grace_ms: 010}\n", "p.yml:1: runtime.grace_ms: expected a whole number in decimal, got '010'"),
    ("runtime:\n  name: python\n  grace_ms: 1:30\n", "p.yml:3: runtime.grace_ms: expected a whole number in decimal, got '1:30'"),
    ("runtime: {name: python, grace_ms: " + "9" * 5000 + "}\n",
     "p.yml:1: runtime.grace_ms: expected a whole number in decimal, got '9999999999"),
    ("runtime: {name: python, grace_ms: 99999999999}\n",
     "p.yml:1: runtime.grace_ms: expected a number from 0 to 60000, got 99999999999"),
    ("runtime: {name: python}\nmiddlewares:\n  - name: a\n    timeout_ms: 0x10\n",
     "p.yml:4: middlewares[0].timeout_ms: expected a whole number in decimal, got '0x10'"),
    ("runtime: {name: [python]}\n", "p.yml:1: runtime.name: expected a non-empty string, got a list"),
    ("runtime: {name: python\n", "p.yml:2: not valid YAML"),
    ("", "p.yml:1: the file is empty"),
    ("- just\n- a list\n", "p.yml:1: (top level): expected a mapping, got a list"),
])
def test_errors_name_line_and_field(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_one_read_names_every_problem_of_the_file_in_order() -> None:
    text = ("runtime: {name: python}\nmiddlewares:\n  - name: log\n    mode: persistant\n"
            "    hooks: [before, aftr]\n    timout_ms: 5\n  - name: log\n")
    with pytest.raises(ConfigError) as raised:
        parse_pipeline(text, "p.yml")
    assert [p.text for p in raised.value.problems] == [
        "p.yml:4: middlewares[0].mode: expected one of exec, persistent, got 'persistant' (did you mean 'persistent'?)",
        "p.yml:5: middlewares[0].hooks[1]: expected one of before, after, error, received, done, before_snapshot, after_restore, "
        "got 'aftr' (did you mean 'after'?)",
        "p.yml:6: middlewares[0].timout_ms: unknown field (did you mean 'timeout_ms'?); expected one of: "
        "aws_credentials, command, env, env_allow, hooks, mode, name, on_error, on_stream, timeout_ms",
        "p.yml:7: middlewares[1].name: the name 'log' is used twice",
    ]
    assert str(raised.value).endswith("(and 3 more problems)")  # one line where only one fits (init errors)


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


@pytest.mark.parametrize(("data", "expected"), [
    ({"runtime": {"name": "a b c"}, "middlewares": [{"name": "x", "hooks": "before"}]},
     "pipeline.json: middlewares[0].hooks: expected a list of strings, got str"),
    ({"runtime": {"name": "python"}, "middlewares": [{"name": "x", "hooks": ["bfore"]}]},
     "pipeline.json: middlewares[0].hooks: expected one of before, after, error, received, done, before_snapshot, after_restore, got 'bfore'"),
    ({"runtime": {"name": "python"}, "middlewares": [{"name": "x", "timeout_ms": "soon"}]},
     "pipeline.json: middlewares[0].timeout_ms: expected a whole number from 1 to 900000, got 'soon'"),
    ({"runtime": {"name": "python", "grace_ms": 99999999999}},
     "pipeline.json: runtime.grace_ms: expected a whole number from 0 to 60000"),
    ({"runtime": {"name": "python", "command": ["x"]}}, "pipeline.json: runtime: expected exactly one of"),
    ({"runtime": {"name": 7}}, "pipeline.json: runtime.name: expected a non-empty string, got 7"),
    ({"runtime": {"name": "python"}, "extra": 1}, "pipeline.json: (top level).extra: unknown field"),
    ({"runtime": {"name": "python"}, "middlewares": [{"name": "x", "env": {"A": 1}}]},
     "pipeline.json: middlewares[0].env: expected an object of strings"),
    ([], "pipeline.json: (top level): expected an object, got list"),
])
def test_a_compiled_pipeline_is_checked_as_strictly_as_yaml(tmp_path: Path, data: object, expected: str) -> None:
    import json

    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as error:
        load_pipeline(path)
    assert str(error.value).startswith(str(tmp_path)) and expected in str(error.value)


@pytest.mark.parametrize("text", [
    "[" * 100_000,  # a RecursionError in the parser, before
    "runtime:\n  name: python\n" + "  " + "a:\n  " * 3000,
])
def test_deeply_nested_files_are_refused_with_the_file_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"pipeline\.yml.*(nested too deeply|not valid YAML|expected)"):
        load_pipeline(path)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text("runtime:\n  name: python\n  env:\n" + "".join(f"    K{i}: v\n" for i in range(200_000)))
    with pytest.raises(ConfigError, match=r"pipeline\.yml:1: over 1024 KiB"):
        load_pipeline(path)


def test_aws_credentials_are_granted_by_one_flag_only(tmp_path: Path) -> None:
    granted = parse_pipeline("runtime: {name: python}\nmiddlewares:\n  - name: a\n    aws_credentials: true\n  - b\n",
                             "p.yml")
    assert [m.aws_credentials for m in granted.middlewares] == [True, False]
    assert "p.yml:4: middlewares[0].aws_credentials: expected true or false, got str 'please'" in error_of(
        "runtime: {name: python}\nmiddlewares:\n  - name: a\n    aws_credentials: please\n")
    assert ("p.yml:4: middlewares[0].env_allow[1]: AWS_SECRET_ACCESS_KEY is an AWS credential: grant them "
            "with `aws_credentials: true`") in error_of(
        "runtime: {name: python}\nmiddlewares:\n  - name: a\n    env_allow: [HOME, AWS_SECRET_ACCESS_KEY]\n")
    # The compiled form keeps the grant.
    path = tmp_path / "pipeline.json"
    path.write_text(granted.to_json())
    assert [m.aws_credentials for m in load_pipeline(path).middlewares] == [True, False]
