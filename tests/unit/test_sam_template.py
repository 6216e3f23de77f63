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
