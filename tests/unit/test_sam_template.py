"""A SAM template read as `sam local` reads it: what each function gets."""

from __future__ import annotations


def test_a_template_function_without_a_pipeline_gets_its_whole_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No middleware runs in the pipeline made for it, so there is no grace period: the
    function's deadline is Lambda's, as under sam local (a 200 ms grace cut it short)."""
    from openruntime.config import parse_pipeline
    from openruntime.emulator.sam_template import read_functions

    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: app.handler, Timeout: 2,\n"
        "                 Environment: {Variables: {QUEUE: !Ref Jobs}}}\n"
        "  Jobs:\n    Type: AWS::SQS::Queue\n")
    [function] = read_functions(tmp_path / "template.yaml")
    assert parse_pipeline(function.pipeline_text()).runtime.grace_ms == 0
    assert function.env["QUEUE"] == "Jobs"  # !Ref of a resource: its logical id, as sam local gives it


def test_parameters_reach_timeout_memory_and_sub_as_sam_local_resolves_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from openruntime.emulator.sam_template import read_functions

    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  Seconds: {Type: Number, Default: 9}\n  Size: {Type: Number, Default: 512}\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: app.handler, Timeout: !Ref Seconds, MemorySize: !Ref Size,\n"
        "                 Environment: {Variables: {LITERAL: !Sub 'keep ${!Literal} and ${AWS::Region}'}}}\n")
    [function] = read_functions(tmp_path / "template.yaml", {"Seconds": "12"})
    assert (function.timeout_s, function.memory_mb) == (12.0, 512)
    assert function.env["LITERAL"] == "keep ${Literal} and us-east-1"
