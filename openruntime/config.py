"""The pipeline file: YAML (or its compiled JSON form) → a typed, validated Pipeline.

Validation walks PyYAML's node tree rather than the loaded dict, so that every error can
name the file, the line and the field (`pipeline.yml:7: middlewares[1].timeout_ms: …`).
The schema is documented in docs/pipeline.md.

This module is on the cold path of every sandbox (`openruntime bootstrap` reads the
pipeline before it starts the runtime), so it imports nothing beyond `os` up front: no
dataclasses (inspect, ast, re: ~10 ms), typing, pathlib or json (re, enum: ~8 ms). The
compiled pipeline.json is read with the C scanner the json package uses itself; YAML,
shlex and json load only where a YAML file is parsed or a pipeline compiled.
"""

from __future__ import annotations

import os

from openruntime.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3-10 ms); mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from typing import Any, TypeVar

    _T = TypeVar("_T")

# before/after/error: each invocation, on its way. received/done: each invocation, once its
# answer is posted, with the event and with the answer (observers: metrics, traces; the
# caller does not wait for them).
# before_snapshot/after_restore: SnapStart, once, around the snapshot (a middleware holding
# a connection drops it, then opens it again).
HOOKS = ("before", "after", "error", "received", "done", "before_snapshot", "after_restore")
OBSERVER_HOOKS = ("received", "done")  # called once the answer is posted; what they answer is not used
SNAPSTART_HOOKS = ("before_snapshot", "after_restore")
MODES = ("exec", "persistent")
ON_ERROR = ("fail", "skip")
# What an `after`/`error` hook does with a streamed response: not called (pass, the default:
# the stream goes on untouched), or called with the whole response, buffered up to 6 MB.
ON_STREAM = ("pass", "buffer")
DEFAULT_HOOKS = ("before", "after")
DEFAULT_MIDDLEWARE_TIMEOUT_MS = 10_000
DEFAULT_GRACE_MS = 200
# The function's AWS credentials, as Lambda (and SnapStart's container credentials) pass
# them: a middleware sees them only when its pipeline entry has `aws_credentials: true`.
CREDENTIAL_ENV = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
})
# Lambda's longest function timeout: no middleware call can take longer.
MAX_TIMEOUT_MS = 900_000
# The orchestrator answers a timeout this long before Lambda's deadline; more than a minute
# would cut every invocation short without helping any.
MAX_GRACE_MS = 60_000
# A pipeline is a few settings: a bigger file (a 50 MB env map, 100,000 nested brackets) is
# refused before it is parsed, so parsing it costs neither time nor memory.
MAX_PIPELINE_CHARS = 1024 * 1024


class Frozen:
    """What `@dataclass(frozen=True)` gave these classes, without importing dataclasses on
    the cold path: field-wise `==` between instances of the same class, a hash of the
    fields, a repr naming them, no assignment (FrozenInstanceError), keyword or positional
    construction, pickling. `replace(**changes)` stands in for `dataclasses.replace`."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self._values())

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed, like `dataclasses.replace`."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return self.__class__(**values)

    __replace__ = replace  # copy.replace() (Python 3.13+)


def _init(obj: Frozen, *values: Any) -> None:
    for name, value in zip(obj._fields, values):
        object.__setattr__(obj, name, value)


class RuntimeConfig(Frozen):
    """The pipeline's `runtime:` entry: which runtime runs the handler, and how."""

    __slots__ = _fields = __match_args__ = ("name", "command", "handler", "task_root", "env", "grace_ms")
    name: str | None
    command: tuple[str, ...] | None
    handler: str | None
    task_root: str | None
    env: dict[str, str]
    grace_ms: int

    def __init__(
        self,
        name: str | None = None,
        command: tuple[str, ...] | None = None,
        handler: str | None = None,
        task_root: str | None = None,
        env: dict[str, str] | None = None,
        grace_ms: int = DEFAULT_GRACE_MS,
    ) -> None:
        _init(self, name, command, handler, task_root, {} if env is None else env, grace_ms)


class MiddlewareConfig(Frozen):
    """One `middlewares:` entry: the executable, its hooks and mode, its limits and grants."""

    __slots__ = _fields = __match_args__ = (
        "name", "command", "hooks", "mode", "timeout_ms", "on_error", "env", "env_allow", "aws_credentials",
        "on_stream",
    )
    name: str
    command: tuple[str, ...] | None
    hooks: tuple[str, ...]
    mode: str
    timeout_ms: int
    on_error: str
    env: dict[str, str]
    env_allow: tuple[str, ...] | None
    aws_credentials: bool  # the function's AWS credentials reach it only when its entry says so
    on_stream: str  # ON_STREAM

    def __init__(
        self,
        name: str,
        command: tuple[str, ...] | None = None,
        hooks: tuple[str, ...] = DEFAULT_HOOKS,
        mode: str = "exec",
        timeout_ms: int = DEFAULT_MIDDLEWARE_TIMEOUT_MS,
        on_error: str = "fail",
        env: dict[str, str] | None = None,
        env_allow: tuple[str, ...] | None = None,
        aws_credentials: bool = False,
        on_stream: str = "pass",
    ) -> None:
        _init(self, name, command, hooks, mode, timeout_ms, on_error, {} if env is None else env, env_allow,
              aws_credentials, on_stream)


class Pipeline(Frozen):
    """A validated pipeline: the runtime, the middlewares in order, and where it was read
    from (relative paths resolve against `base_dir`; messages name `source` and line)."""

    _fields = __match_args__ = ("runtime", "middlewares", "base_dir", "source")
    # `lines` is not a field: where each setting was written, for messages only (a pipeline
    # read from YAML equals its compiled form, which has no lines).
    __slots__ = (*_fields, "lines")
    runtime: RuntimeConfig
    middlewares: tuple[MiddlewareConfig, ...]
    base_dir: str  # folder that relative paths in the file resolve against
    source: str | None
    lines: dict[str, int]  # "runtime.name", "middlewares[0].command", … → line in `source`

    def __init__(
        self,
        runtime: RuntimeConfig,
        middlewares: tuple[MiddlewareConfig, ...] = (),
        base_dir: str = ".",
        source: str | None = None,
        lines: dict[str, int] | None = None,
    ) -> None:
        _init(self, runtime, middlewares, base_dir, source)
        object.__setattr__(self, "lines", {} if lines is None else lines)

    def where(self, field: str) -> str:
        """`file:line: field` for a message about a setting of this pipeline; a setting
        the file does not spell out is named by its closest written parent."""
        line = None
        probe = field
        while probe:
            line = self.lines.get(probe)
            if line is not None:
                break
            probe = probe.rpartition(".")[0]
        place = ":".join(str(p) for p in (self.source, line) if p is not None)
        return f"{place}: {field}" if place else field

    def middleware_field(self, name: str, key: str) -> str:
        """`middlewares[i].key` for the middleware called `name`."""
        for index, middleware in enumerate(self.middlewares):
            if middleware.name == name:
                return f"middlewares[{index}].{key}"
        return f"middlewares.{name}.{key}"

    def resolve_path(self, value: str) -> str:
        """A path from the file, made absolute against the file's folder."""
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(self.base_dir, value))

    def resolve_command(self, command: tuple[str, ...]) -> list[str]:
        """Only a program given as a path (it has a slash) is relative to the file."""
        program = command[0]
        if "/" in program:
            program = self.resolve_path(program)
        return [program, *command[1:]]

    def to_json(self) -> str:
        """The compiled form shipped in layers, so the cold start parses no YAML."""
        import json

        data = {
            "runtime": _as_dict(self.runtime),
            "middlewares": [_as_dict(m) for m in self.middlewares],
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _as_dict(config: Frozen) -> dict[str, Any]:
    """`dataclasses.asdict` for the flat config records (their dicts are copied)."""
    return {name: dict(v) if isinstance(v := getattr(config, name), dict) else v for name in config._fields}


# -- loading -------------------------------------------------------------------------------


def load_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """Load and validate a pipeline file (.yml, .yaml or compiled .json)."""
    file = os.fspath(path)
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read(MAX_PIPELINE_CHARS + 1)
    except FileNotFoundError:
        raise ConfigError("pipeline file not found", file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read pipeline file: {exc}", file) from None
    base_dir = os.path.dirname(os.path.abspath(file))
    if file.endswith(".json"):
        return _from_json(text, file, base_dir)  # compiled: its middlewares' defaults are resolved in it
    from openruntime.middleware.defaults import with_middleware_defaults

    return with_middleware_defaults(parse_pipeline(text, file, base_dir), os.environ)


def parse_pipeline(text: str, file: str = "<pipeline>", base_dir: str = ".") -> Pipeline:
    import yaml  # only needed when a YAML file is parsed: compiled pipelines skip it

    _check_size(text, file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ConfigError("nested too deeply to be a pipeline", file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"not valid YAML: {exc.problem}", file, mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file) from None
    if root is None:
        raise ConfigError("the file is empty; expected a mapping with a 'runtime' key", file, 1)
    reader = _NodeReader(file)
    top = reader.mapping(root, "", {"runtime", "middlewares"})
    runtime = reader.runtime(top.get("runtime"), root)
    middlewares_node = top.get("middlewares")
    middlewares: tuple[MiddlewareConfig, ...] = ()
    if middlewares_node is not None and reader.tag(middlewares_node) != "null":
        middlewares = reader.attempt(lambda: reader.middlewares(middlewares_node), ())
    reader.raise_problems()
    return Pipeline(runtime, middlewares, base_dir, file, reader.lines)


_JSON_SPACE = " \t\n\r"


class _JSONContext:
    """What json.JSONDecoder hands its C scanner (the defaults of json.loads)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


def _json_loads(text: str) -> Any:
    """`json.loads(text)` without importing json, whose decoder imports re (and enum):
    ~8 ms of a `python -S` start. The C scanner is json's own; whatever it does not accept
    goes to json.loads, which raises its usual error."""
    try:
        from _json import make_scanner
    except ImportError:  # an interpreter without the accelerator module
        pass
    else:
        start = len(text) - len(text.lstrip(_JSON_SPACE))
        try:
            value, end = make_scanner(_JSONContext)(text, start)  # type: ignore[arg-type]
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if not text[end:].strip(_JSON_SPACE):
                return value
    import json

    return json.loads(text)


def _check_size(text: str, file: str) -> None:
    if len(text) > MAX_PIPELINE_CHARS:
        raise ConfigError(f"over {MAX_PIPELINE_CHARS // 1024} KiB: a pipeline is a few settings, not data", file, 1)


def _from_json(text: str, file: str, base_dir: str) -> Pipeline:
    """The compiled form, checked as strictly as the YAML: every field's type and range,
    errors naming the field (`pipeline.json: middlewares[1].hooks: …`)."""
    _check_size(text, file)
    try:
        data = _json_loads(text)
    except RecursionError:
        raise ConfigError("not a compiled pipeline: nested too deeply", file) from None
    except ValueError as exc:
        raise ConfigError(f"not a compiled pipeline: {exc}", file) from None
    check = _CompiledCheck(file)
    top = check.mapping(data, "(top level)", {"runtime", "middlewares"}, {"runtime"})
    rt = check.mapping(top["runtime"], "runtime", set(RuntimeConfig._fields), set())
    runtime = RuntimeConfig(
        name=check.optional(rt, "name", "runtime", check.string),
        command=check.optional(rt, "command", "runtime", check.command),
        handler=check.optional(rt, "handler", "runtime", check.string),
        task_root=check.optional(rt, "task_root", "runtime", check.string),
        env=check.optional(rt, "env", "runtime", check.env) or {},
        grace_ms=check.number(rt.get("grace_ms", DEFAULT_GRACE_MS), "runtime.grace_ms", 0, MAX_GRACE_MS),
    )
    if (runtime.name is None) == (runtime.command is None):
        raise check.fail("runtime", "expected exactly one of 'name' or 'command'")
    entries = top.get("middlewares") or []
    if not isinstance(entries, list):
        raise check.fail("middlewares", f"expected a list, got {type(entries).__name__}")
    middlewares = []
    for i, entry in enumerate(entries):
        where = f"middlewares[{i}]"
        m = check.mapping(entry, where, set(MiddlewareConfig._fields), {"name"})
        hooks = check.strings(m.get("hooks", list(DEFAULT_HOOKS)), f"{where}.hooks")
        for hook in hooks:
            check.one_of(hook, f"{where}.hooks", HOOKS)
        middlewares.append(MiddlewareConfig(
            name=check.string(m["name"], f"{where}.name"),
            command=check.optional(m, "command", where, check.command),
            hooks=hooks,
            mode=check.one_of(m.get("mode", "exec"), f"{where}.mode", MODES),
            timeout_ms=check.number(m.get("timeout_ms", DEFAULT_MIDDLEWARE_TIMEOUT_MS), f"{where}.timeout_ms",
                                    1, MAX_TIMEOUT_MS),
            on_error=check.one_of(m.get("on_error", "fail"), f"{where}.on_error", ON_ERROR),
            env=check.optional(m, "env", where, check.env) or {},
            env_allow=check.optional(m, "env_allow", where, check.strings),
            aws_credentials=check.flag(m.get("aws_credentials", False), f"{where}.aws_credentials"),
            on_stream=check.one_of(m.get("on_stream", "pass"), f"{where}.on_stream", ON_STREAM),
        ))
    return Pipeline(runtime, tuple(middlewares), base_dir, file)


class _CompiledCheck:
    """Typed reads from a compiled pipeline's JSON values; a failure names the field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, problem: str) -> ConfigError:
        return ConfigError(problem, self.file, field=field)

    def mapping(self, value: object, field: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, f"expected an object, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{field}.{key}", f"unknown field; expected one of: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in value:
                raise self.fail(f"{field}.{key}", "missing")
        return value

    def optional(self, mapping: dict[str, Any], key: str, where: str, read: Any) -> Any:
        value = mapping.get(key)
        return None if value is None else read(value, f"{where}.{key}")

    def string(self, value: object, field: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(field, f"expected a non-empty string, got {value!r:.60}")
        return value

    def strings(self, value: object, field: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list of strings, got {type(value).__name__}")
        return tuple(self.string(item, f"{field}[{i}]") for i, item in enumerate(value))

    def command(self, value: object, field: str) -> tuple[str, ...]:
        command = self.strings(value, field)
        if not command:
            raise self.fail(field, "expected at least one word")
        return command

    def env(self, value: object, field: str) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self.fail(field, "expected an object of strings")
        return dict(value)

    def number(self, value: object, field: str, minimum: int, maximum: int) -> int:
        if type(value) is not int or not minimum <= value <= maximum:
            raise self.fail(field, f"expected a whole number from {minimum} to {maximum}, got {value!r:.60}")
        return value

    def flag(self, value: object, field: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(field, f"expected true or false, got {value!r:.60}")
        return value

    def one_of(self, value: object, field: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(field, f"expected one of {', '.join(choices)}, got {value!r:.60}")
        assert isinstance(value, str)
        return value


def _suggestion(word: str, known: Collection[str]) -> str:
    """' (did you mean 'hooks'?)' for a near miss, else ''."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _NodeReader:
    """Typed reads from YAML nodes; every failure becomes a ConfigError with a line."""

    def __init__(self, file: str) -> None:
        self.lines: dict[str, int] = {}  # every field read → its line (1-based)
        self.file = file
        self.problems: list[ConfigError] = []  # collected, so that one read names them all

    def fail(self, node: Any, field: str, message: str) -> ConfigError:
        return ConfigError(message, self.file, node.start_mark.line + 1, field or "(top level)")

    def attempt(self, read: Callable[[], _T], default: _T) -> _T:
        """`read()`, or `default` with its problem kept for the end of the read."""
        try:
            return read()
        except ConfigError as exc:
            self.problems.append(exc)
            return default

    def raise_problems(self) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: p.line or 0)
            first = ordered[0]
            first.more = ordered[1:]
            raise first

    @staticmethod
    def tag(node: Any) -> str:
        return str(node.tag).rsplit(":", 1)[-1]

    def mapping(self, node: Any, field: str, allowed: set[str]) -> dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, f"expected a mapping, got {self._kind(node)}")
        if field:  # where its key is, when it has one (a list item has none)
            self.lines.setdefault(field, node.start_mark.line + 1)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            where = f"{field}.{key}" if field else key
            self.lines[where] = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key not in allowed:
                self.problems.append(self.fail(
                    key_node, where, f"unknown field{_suggestion(str(key), allowed)}; expected one of: "
                    f"{', '.join(sorted(allowed))}"))
                continue
            if key in result:
                self.problems.append(self.fail(key_node, where, "given twice"))
                continue
            result[key] = value_node
        return result

    def _kind(self, node: Any) -> str:
        import yaml

        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return f"{self.tag(node)} {node.value!r}"

    def string(self, node: Any, field: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or self.tag(node) in ("null",) or node.value == "":
            raise self.fail(node, field, f"expected a non-empty string, got {self._kind(node)}")
        return str(node.value)

    def integer(self, node: Any, field: str, minimum: int, maximum: int) -> int:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or self.tag(node) != "int":
            raise self.fail(node, field, f"expected a whole number, got {self._kind(node)}")
        text = node.value.replace("_", "")
        # Plain decimal only: YAML 1.1 also reads 010 as 8 and 1:30 as 90, which nobody
        # means for a number of milliseconds; and a 5,000-digit number is not a setting.
        if not text.isdigit() or len(text) > 12 or (len(text) > 1 and text.startswith("0")):
            raise self.fail(node, field, f"expected a whole number in decimal, got {node.value[:40]!r}")
        value = int(text)
        if not minimum <= value <= maximum:
            raise self.fail(node, field, f"expected a number from {minimum} to {maximum}, got {value}")
        return value

    def boolean(self, node: Any, field: str) -> bool:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or self.tag(node) != "bool":
            raise self.fail(node, field, f"expected true or false, got {self._kind(node)}")
        return bool(node.value.lower() in ("true", "yes", "on", "y"))

    def env_allow(self, node: Any, field: str) -> tuple[str, ...]:
        names = self.string_list(node, field)
        for i, name in enumerate(names):
            if name in CREDENTIAL_ENV:
                raise self.fail(node.value[i], f"{field}[{i}]",
                                f"{name} is an AWS credential: grant them with `aws_credentials: true`")
        return names

    def choice(self, node: Any, field: str, choices: tuple[str, ...]) -> str:
        value = self.string(node, field)
        if value not in choices:
            raise self.fail(node, field, f"expected one of {', '.join(choices)}, got {value!r}{_suggestion(value, choices)}")
        return value

    def string_list(self, node: Any, field: str) -> tuple[str, ...]:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, field, f"expected a list of strings, got {self._kind(node)}")
        return tuple(self.string(item, f"{field}[{i}]") for i, item in enumerate(node.value))

    def command(self, node: Any, field: str) -> tuple[str, ...]:
        import yaml

        if isinstance(node, yaml.ScalarNode):
            import shlex  # imports re: only YAML needs it

            parts = tuple(shlex.split(self.string(node, field)))
        else:
            parts = self.string_list(node, field)
        if not parts:
            raise self.fail(node, field, "expected a command, got an empty list")
        return parts

    def env(self, node: Any, field: str) -> dict[str, str]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, f"expected a mapping of names to values, got {self._kind(node)}")
        env: dict[str, str] = {}
        for key_node, value_node in node.value:
            name = self.string(key_node, f"{field}")
            self.lines[f"{field}.{name}"] = key_node.start_mark.line + 1
            if not isinstance(value_node, yaml.ScalarNode) or self.tag(value_node) == "null":
                raise self.fail(value_node, f"{field}.{name}", "expected a scalar value")
            env[name] = str(value_node.value)
        return env

    def runtime(self, node: Any, root: Any) -> RuntimeConfig:
        if node is None:
            raise self.fail(root, "runtime", "missing; expected a mapping with 'name' or 'command'")
        fields = self.mapping(node, "runtime", {"name", "command", "handler", "task_root", "env", "grace_ms"})
        name = self.string(fields["name"], "runtime.name") if "name" in fields else None
        command = self.command(fields["command"], "runtime.command") if "command" in fields else None
        if (name is None) == (command is None):
            raise self.fail(node, "runtime", "expected exactly one of 'name' (a bundled runtime) or 'command'")
        return RuntimeConfig(
            name=name,
            command=command,
            handler=self.string(fields["handler"], "runtime.handler") if "handler" in fields else None,
            task_root=self.string(fields["task_root"], "runtime.task_root") if "task_root" in fields else None,
            env=self.env(fields["env"], "runtime.env") if "env" in fields else {},
            grace_ms=self.integer(fields["grace_ms"], "runtime.grace_ms", 0, MAX_GRACE_MS)
            if "grace_ms" in fields else DEFAULT_GRACE_MS,
        )

    def middlewares(self, node: Any) -> tuple[MiddlewareConfig, ...]:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "middlewares", f"expected a list, got {self._kind(node)}")
        result = []
        seen: set[str] = set()
        for index, item in enumerate(node.value):
            where = f"middlewares[{index}]"
            if isinstance(item, yaml.ScalarNode):  # shorthand: just the name
                name = self.attempt(lambda: self.string(item, where), where)
                middleware = MiddlewareConfig(name=name)
                self.lines[where] = self.lines[f"{where}.name"] = item.start_mark.line + 1
            else:
                entry = self.attempt(lambda: self.middleware(item, where), None)
                if entry is None:
                    continue
                middleware = entry
            if middleware.name in seen:
                self.problems.append(self.fail(item, f"{where}.name", f"the name {middleware.name!r} is used twice"))
                continue
            seen.add(middleware.name)
            result.append(middleware)
        return tuple(result)

    def middleware(self, node: Any, where: str) -> MiddlewareConfig:
        allowed = set(MiddlewareConfig._fields)
        fields = self.mapping(node, where, allowed)
        if "name" not in fields:
            raise self.fail(node, f"{where}.name", "missing; every middleware needs a name")
        hooks: tuple[str, ...] = DEFAULT_HOOKS
        if "hooks" in fields:
            hooks = self.attempt(lambda: self.string_list(fields["hooks"], f"{where}.hooks"), DEFAULT_HOOKS)
            for i, hook in enumerate(hooks):
                if hook not in HOOKS:
                    self.problems.append(self.fail(
                        fields["hooks"].value[i], f"{where}.hooks[{i}]",
                        f"expected one of {', '.join(HOOKS)}, got {hook!r}{_suggestion(hook, HOOKS)}",
                    ))
            hooks = tuple(h for h in hooks if h in HOOKS)
            if not hooks and not fields["hooks"].value:
                self.problems.append(self.fail(fields["hooks"], f"{where}.hooks", "expected at least one hook"))
        # Every field is read even after a bad one: `validate` names all a file's problems.
        a = self.attempt
        return MiddlewareConfig(
            name=a(lambda: self.string(fields["name"], f"{where}.name"), where),
            command=a(lambda: self.command(fields["command"], f"{where}.command"), None) if "command" in fields else None,
            hooks=tuple(dict.fromkeys(hooks)) or DEFAULT_HOOKS,
            mode=a(lambda: self.choice(fields["mode"], f"{where}.mode", MODES), "exec") if "mode" in fields else "exec",
            timeout_ms=a(lambda: self.integer(fields["timeout_ms"], f"{where}.timeout_ms", 1, MAX_TIMEOUT_MS),
                         DEFAULT_MIDDLEWARE_TIMEOUT_MS) if "timeout_ms" in fields else DEFAULT_MIDDLEWARE_TIMEOUT_MS,
            on_error=a(lambda: self.choice(fields["on_error"], f"{where}.on_error", ON_ERROR), "fail")
            if "on_error" in fields else "fail",
            env=a(lambda: self.env(fields["env"], f"{where}.env"), dict[str, str]()) if "env" in fields else {},
            env_allow=a(lambda: self.env_allow(fields["env_allow"], f"{where}.env_allow"), None)
            if "env_allow" in fields else None,
            aws_credentials=a(lambda: self.boolean(fields["aws_credentials"], f"{where}.aws_credentials"), False)
            if "aws_credentials" in fields else False,
            on_stream=a(lambda: self.choice(fields["on_stream"], f"{where}.on_stream", ON_STREAM), "pass")
            if "on_stream" in fields else "pass",
        )


def max_concurrency(environ: Mapping[str, str]) -> int:
    """`AWS_LAMBDA_MAX_CONCURRENCY` (Managed Instances mode when above 1); 1 when unset or
    not a positive whole number (said in the log: Lambda sets it, a typo here is a user's)."""
    text = environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    if text is None:
        return 1
    if text.isdigit() and 0 < int(text) <= 1024:
        return int(text)
    from openruntime.function_log import log

    log(f"AWS_LAMBDA_MAX_CONCURRENCY={text!r} is not a whole number from 1 to 1024; serving one at a time", "WARN")
    return 1


def pipeline_from_env(environ: dict[str, str] | os._Environ[str]) -> Pipeline:
    """No pipeline file: the original Serverless Open Runtime's `SLSMIDDLEWARES=a,b`."""
    names = [n.strip() for n in environ.get("SLSMIDDLEWARES", "").split(",") if n.strip()]
    runtime = RuntimeConfig(name=environ.get("OPENRUNTIME_RUNTIME", "python"))
    pipeline = Pipeline(runtime, tuple(MiddlewareConfig(name=n) for n in names), os.getcwd(), None)
    if not names:
        return pipeline
    from openruntime.middleware.defaults import with_middleware_defaults

    return with_middleware_defaults(pipeline, environ)  # names only: each its middleware.json's hooks and mode
