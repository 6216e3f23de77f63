"""deploy/: the SAM and Serverless examples point at what `layer build` makes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from layerzips import REPO

from openruntime.config import load_pipeline
from openruntime.layers.build import MIDDLEWARES_ZIP, ORCHESTRATOR_ZIP, runtime_zip_name

DEPLOY = REPO / "deploy"
BUILT = {ORCHESTRATOR_ZIP, MIDDLEWARES_ZIP, runtime_zip_name("python")}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's short tags (!Ref, !GetAtt …) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def test_sam_template_uses_the_built_zips_and_the_wrapper() -> None:
    template = yaml.load((DEPLOY / "sam" / "template.yaml").read_text(), Loader=_CfnLoader)
    resources = template["Resources"]
    layers = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::LayerVersion"}
    uris = {Path(v["Properties"]["ContentUri"]).name for v in layers.values()}
    assert uris == BUILT
    for layer in layers.values():
        uri = DEPLOY / "sam" / layer["Properties"]["ContentUri"]
        assert uri.resolve().parent == REPO / "dist" / "layers"
    hello = resources["HelloFunction"]["Properties"]
    assert hello["Runtime"].startswith("python3.")
    assert hello["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/openruntime-wrapper"
    provided = resources["HelloProvidedFunction"]["Properties"]
    assert provided["Runtime"] == "provided.al2023"
    assert len(provided["Layers"]) <= 5
    code = (DEPLOY / "sam" / hello["CodeUri"]).resolve()
    assert (code / "app.py").is_file() and (code / "pipeline.yml").is_file()


def test_serverless_config_uses_the_built_zips() -> None:
    config = yaml.safe_load((DEPLOY / "serverless" / "serverless.yml").read_text())
    artifacts = {Path(v["package"]["artifact"]).name for v in config["layers"].values()}
    assert artifacts == BUILT
    hello = config["functions"]["hello"]
    assert hello["environment"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/openruntime-wrapper"
    refs = {ref["Ref"] for ref in hello["layers"]}
    # The framework names a layer's logical id <TitleCasedKey>LambdaLayer.
    expected = {key[0].upper() + key[1:] + "LambdaLayer" for key in config["layers"]}
    assert refs <= expected


def test_deploy_pipeline_is_valid() -> None:
    pipeline = load_pipeline(DEPLOY / "function" / "pipeline.yml")
    assert [m.name for m in pipeline.middlewares] == ["envelope", "stamp"]


@pytest.mark.skipif(shutil.which("cfn-lint") is None, reason="cfn-lint not installed")
def test_sam_template_passes_cfn_lint() -> None:
    result = subprocess.run(["cfn-lint", str(DEPLOY / "sam" / "template.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
