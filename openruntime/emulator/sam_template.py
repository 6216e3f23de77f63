"""The functions of a SAM template, for `serve --template template.yaml`.

Reads every `AWS::Serverless::Function` (with the template's `Globals.Function`): its
logical id (the name it is served under), `CodeUri` (the task root), `Handler`,
`Runtime`, `Timeout`, `MemorySize` and `Environment.Variables`. CloudFormation's short
tags (`!Ref`, `!Sub`, `!GetAtt`…) are read as what they are, not errors; a variable whose
value is one is left out, and said. `AWS_LAMBDA_EXEC_WRAPPER` is left out too: locally the
orchestrator is this installation's, not a layer's. Layers are not extracted: the
function's own `pipeline.yml` (in its code folder) is its pipeline, else it runs with
none, on the bundled runtime its `Runtime` names.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from openruntime.emulator.routes import Cors, Route, cors_of, routes_of
from openruntime.errors import ConfigError

RUNTIMES = (("python", "python"), ("nodejs", "node"))  # Runtime prefix → bundled runtime


@dataclass
class TemplateFunction:
    name: str
    code_dir: Path
    handler: str | None
    runtime: str | None
    timeout_s: float
    memory_mb: int
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    http: bool = False  # an Api/HttpApi event or a FunctionUrlConfig: what `--http` fronts first
    alias: str | None = None  # AutoPublishAlias: a qualifier callers may use
    routes: list[Route] = field(default_factory=list)  # its Api/HttpApi events, for `serve --http`
    declared: set[str] = field(default_factory=set)  # its Environment's names: what --env-vars may set

    def pipeline_text(self) -> str:
        """An implicit pipeline for a function without a pipeline.yml of its own. No
        middleware runs, so nothing needs the grace period: the function gets its whole
        Timeout, and a timeout is the emulator's own, as Lambda reports it."""
        runtime = self.runtime or ""
        for prefix, bundled in RUNTIMES:
            if runtime.startswith(prefix):
                return (f"runtime: {{name: {bundled}, handler: {self.handler}, task_root: {self.code_dir}, "
                        "grace_ms: 0}\n")
        return (f"runtime: {{command: [{self.code_dir / 'bootstrap'}], handler: {self.handler}, "
                f"task_root: {self.code_dir}, grace_ms: 0}}\n")


def _loader() -> Any:
    import yaml

    class CloudFormationLoader(yaml.SafeLoader):
        """YAML with CloudFormation's short tags: `!Ref X` is {"Ref": "X"}, `!Sub …` {"Fn::Sub": …}."""

    def tagged(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}

    CloudFormationLoader.add_multi_constructor("!", tagged)
    return CloudFormationLoader


def read_functions(path: str | Path, overrides: dict[str, str] | None = None) -> list[TemplateFunction]:
    """The template's functions; `overrides` are `--parameter-overrides` (over the
    template's Parameters' Defaults), used where a variable is `!Ref` or `!Sub` of them."""
    import yaml

    template_path = Path(path)
    try:
        document = yaml.load(template_path.read_text(), Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), str(template_path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not YAML: {exc}", str(template_path)) from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise ConfigError("no Resources: not a SAM template", str(template_path))
    defaults = ((document.get("Globals") or {}).get("Function") or {}) if isinstance(document.get("Globals"), dict) else {}
    parameters = _parameters(document, overrides or {})
    cors = cors_of(document)
    functions = []
    for name, resource in document["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        try:
            functions.append(_function(str(name), resource, defaults, parameters, cors, template_path))
        except (AttributeError, TypeError, ValueError) as exc:  # a mapping where SAM has one, say
            raise ConfigError(f"{name}: not a function SAM would read ({type(exc).__name__}: {exc})",
                              str(template_path)) from None
    if not functions:
        raise ConfigError("no AWS::Serverless::Function in it", str(template_path))
    return functions


def _function(name: str, resource: dict[str, Any], defaults: dict[str, Any], parameters: dict[str, str],
              cors: dict[str, Cors], template_path: Path) -> TemplateFunction:
    """One AWS::Serverless::Function, Globals applied; TypeError/AttributeError where the
    template has the wrong shape (the caller says so)."""
    properties = {**defaults, **(resource.get("Properties") or {})}
    variables = {**((defaults.get("Environment") or {}).get("Variables") or {}),
                 **(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})}
    function = TemplateFunction(
        name=str(name),
        code_dir=(template_path.parent / str(properties.get("CodeUri") or ".")).resolve(),
        handler=str(properties["Handler"]) if isinstance(properties.get("Handler"), str) else None,
        runtime=str(properties["Runtime"]) if isinstance(properties.get("Runtime"), str) else None,
        timeout_s=_number(properties.get("Timeout", 3), parameters, float, 3.0),
        memory_mb=_number(properties.get("MemorySize", 128), parameters, int, 128),
        alias=str(properties["AutoPublishAlias"]) if isinstance(properties.get("AutoPublishAlias"), str) else None,
    )
    events = (resource.get("Properties") or {}).get("Events") or {}
    function.http = bool((resource.get("Properties") or {}).get("FunctionUrlConfig")) or any(
        isinstance(e, dict) and e.get("Type") in ("Api", "HttpApi") for e in events.values())
    function.routes = routes_of(function.name, events, cors) if isinstance(events, dict) else []
    function.declared = {str(key) for key in variables}
    for key, value in variables.items():
        if key == "AWS_LAMBDA_EXEC_WRAPPER":
            continue
        value = _resolved(value, parameters)
        if isinstance(value, (str, int, float, bool)):
            function.env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            function.notes.append(f"{name}: environment variable {key} is {value!r}, which only CloudFormation "
                                  "resolves: left out (give it with --env, --env-vars or --parameter-overrides)")
    version_note = _version_note(function)
    if version_note:
        function.notes.append(version_note)
    return function


def _parameters(document: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """What `!Ref NAME` and `${NAME}` resolve to here, as `sam local` resolves them: the
    template's Parameters' Defaults under --parameter-overrides, the pseudo parameters of
    the emulator's account and region, and a resource's logical id."""
    from openruntime.emulator.sandbox import ACCOUNT_ID

    values = {"AWS::Region": os.environ.get("AWS_REGION", "us-east-1"), "AWS::AccountId": ACCOUNT_ID,
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "local"}
    resources = document.get("Resources")
    for name in (resources if isinstance(resources, dict) else ()):
        values[str(name)] = str(name)  # !Ref of a resource: its logical id, as sam local gives it
    declared = document.get("Parameters")
    for name, spec in (declared.items() if isinstance(declared, dict) else ()):
        default = spec.get("Default") if isinstance(spec, dict) else None
        if isinstance(default, (str, int, float, bool)):
            values[str(name)] = str(default)
    return {**values, **overrides}


def _resolved(value: Any, parameters: dict[str, str]) -> Any:
    """`{"Ref": NAME}` and `{"Fn::Sub": "…${NAME}…"}` of known parameters as text; any other
    value as it is (a dict CloudFormation alone resolves stays a dict: left out)."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    if isinstance(value.get("Ref"), str) and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    text = value.get("Fn::Sub")
    if isinstance(text, str):
        names = re.findall(r"\$\{([^}!]+)\}", text)
        if all(name in parameters for name in names):
            resolved = re.sub(r"\$\{([^}!]+)\}", lambda m: parameters[m.group(1)], text)
            return resolved.replace("${!", "${")  # ${!Literal} is the text ${Literal}
    return value


_N = TypeVar("_N", int, float)


def _number(value: Any, parameters: dict[str, str], kind: type[_N], default: _N) -> _N:
    """A Timeout or MemorySize: a number, or `!Ref` of a Parameter holding one."""
    value = _resolved(value, parameters)
    if isinstance(value, bool):
        return default
    try:
        return kind(value) if isinstance(value, (int, float, str)) else default
    except ValueError:
        return default


def _version_note(function: TemplateFunction) -> str | None:
    """A Python function whose template names another Python than the one the bundled
    runtime will run it on here ($OPENRUNTIME_PYTHON, else python3 on PATH): said, as code
    that works on one minor version may not on another."""
    runtime = function.runtime or ""
    if not runtime.startswith("python3."):
        return None
    interpreter = os.environ.get("OPENRUNTIME_PYTHON") or "python3"
    here = _python_version(interpreter)
    if here is None or runtime == here:
        return None
    return (f"{function.name}: the template's Runtime is {runtime}; here it runs on {here} ({interpreter}); "
            f"set OPENRUNTIME_PYTHON to a {runtime} interpreter to match Lambda")


@functools.cache
def _python_version(interpreter: str) -> str | None:
    """`python3.X` of an interpreter: this one's without asking (a venv's python3 usually
    is), another's asked once (a pyenv shim's name says nothing)."""
    import shutil
    import subprocess

    found = shutil.which(interpreter)
    if found is not None and os.path.realpath(found) == os.path.realpath(sys.executable):
        return f"python{sys.version_info[0]}.{sys.version_info[1]}"

    try:
        done = subprocess.run([interpreter, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
