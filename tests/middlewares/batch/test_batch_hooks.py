"""The batch middleware's hooks as plain functions, on the real AWS event samples: which
records a batch holds, what the handler answered, and the partial batch response."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aws_batch import hooks, store
from aws_batch.config import BatchConfig
from aws_fixtures import ALL_FIXTURES, load, raw
from batch_support import dumps, fifo_batch, sqs_batch_of, sqs_ids

DEFAULT = BatchConfig()
SQS = load("sqs-batch.json")
SQS_IDS = sqs_ids(SQS)
KINESIS_IDS = ["49568167373333333333333333333333333333333333333333333333",
               "49568167373333333334444444444444444444444444444444444444"]
BATCH_FIXTURES = {"sqs-batch.json", "sqs-message-attributes.json", "sqs-fifo-sns-envelope.json",
                  "sqs-s3-notification-body.json", "kinesis.json", "kinesis-cloudwatch-logs-payload.json",
                  "dynamodb-stream.json", "dynamodb-stream-insert-modify.json"}


def run(event: Any, answer: Any, config: BatchConfig = DEFAULT) -> dict[str, Any]:
    """before, then after with the handler's `answer`: the invocation result."""
    out = hooks.before(dumps(event), config)
    result = hooks.after(dumps(answer), out.state, config)
    assert result is not None
    return json.loads(result)


def failures(*ids: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def batch_error(event: Any, answer: Any, config: BatchConfig = DEFAULT) -> hooks.BatchError:
    with pytest.raises(hooks.BatchError) as caught:
        run(event, answer, config)
    return caught.value


# ------------------------------------------------------------------ sources and identifiers


def test_sqs_failed_record_is_reported_by_its_message_id() -> None:
    assert run(SQS, [None, {"errorType": "ValueError", "errorMessage": "bad order"}]) == failures(SQS_IDS[1])


def test_all_succeeded_is_an_empty_list() -> None:
    assert run(SQS, [None, True]) == failures()


def test_kinesis_records_are_reported_by_sequence_number() -> None:
    assert run(load("kinesis.json"), ["throttled", None]) == failures(KINESIS_IDS[0])


def test_dynamodb_records_are_reported_by_stream_sequence_number() -> None:
    assert run(load("dynamodb-stream-insert-modify.json"), [None, "conflict"]) == failures("222")


def test_a_duplicate_identifier_is_reported_once() -> None:
    # dynamodb-stream.json's two records share SequenceNumber 1405400000000002063282832.
    config = BatchConfig(all_failed="report")
    assert run(load("dynamodb-stream.json"), ["a", "b"], config) == failures("1405400000000002063282832")


@pytest.mark.parametrize("name", sorted(set(ALL_FIXTURES) - BATCH_FIXTURES))
def test_other_events_pass_through_byte_identical(name: str) -> None:
    out = hooks.before(raw(name), BatchConfig(decode="json"))
    assert (out.payload, out.state) == (None, None)
    assert hooks.after(b'{"statusCode": 200}', out.state, DEFAULT) is None


@pytest.mark.parametrize("name", sorted(BATCH_FIXTURES))
def test_every_batch_sample_is_recognised_and_passed_on_untouched(name: str) -> None:
    out = hooks.before(raw(name), DEFAULT)
    assert out.payload is None  # without BATCH_DECODE the event is not re-encoded
    plan = store.load(out.state)
    assert plan is not None and len(plan.ids) == len(load(name)["Records"])


def test_a_record_without_its_identifier_fails_naming_it() -> None:
    event = json.loads(json.dumps(SQS))
    del event["Records"][1]["messageId"]
    with pytest.raises(hooks.BatchError) as caught:
        hooks.before(dumps(event), DEFAULT)
    assert caught.value.error_type == "Batch.InvalidEvent"
    assert caught.value.message == "invalid sqs event: field 'Records[1].messageId' is missing"
    assert caught.value.details == {"field": "Records[1].messageId"}


def test_a_record_from_another_source_fails() -> None:
    event = {"Records": [SQS["Records"][0], load("kinesis.json")["Records"][0]]}
    with pytest.raises(hooks.BatchError) as caught:
        hooks.before(dumps(event), DEFAULT)
    assert "Records[1].eventSource' must be 'aws:sqs'" in caught.value.message


# ------------------------------------------------------------------ the handler's answer


def test_promise_all_settled_entries_are_understood() -> None:
    answer = [{"status": "rejected", "reason": {"message": "boom"}}, {"status": "fulfilled", "value": 1}]
    assert run(SQS, answer) == failures(SQS_IDS[0])


def test_false_and_an_empty_string_are_failures() -> None:
    assert run(SQS, [False, ""], BatchConfig(all_failed="report")) == failures(*SQS_IDS)


def test_lambdas_own_shape_is_checked_and_kept() -> None:
    assert run(SQS, failures(SQS_IDS[1])) == failures(SQS_IDS[1])
    assert run(SQS, {"batchItemFailures": None}) == failures()


def test_an_identifier_not_in_the_batch_is_refused() -> None:
    error = batch_error(SQS, failures("MessageID_1"))  # sqs-batch-response.json's ids
    assert error.error_type == "Batch.InvalidResponse"
    assert "batchItemFailures[0].itemIdentifier 'MessageID_1' is not a record of this batch" in error.message


def test_an_empty_identifier_is_refused() -> None:
    error = batch_error(SQS, {"batchItemFailures": [{"itemIdentifier": ""}]})
    assert error.message.startswith(
        "batchItemFailures[0] must be an object with a non-empty string itemIdentifier, got an empty itemIdentifier")


def test_a_bad_outcome_names_its_index_and_record() -> None:
    error = batch_error(SQS, [None, 3])
    assert error.error_type == "Batch.InvalidResponse"
    assert error.message.startswith(f"outcome [1] (record '{SQS_IDS[1]}') is a number; an outcome must be")
    error = batch_error(SQS, [{"id": 7}, None])
    assert "outcome [0]" in error.message and "without errorMessage, errorType or status" in error.message


def test_more_outcomes_than_records_is_refused() -> None:
    assert "answered 3 outcomes for a batch of 2 records" in batch_error(SQS, [None, None, None]).message


@pytest.mark.parametrize("answer", [None, {"ok": True}, "done", 3])
def test_an_answer_that_is_neither_shape_fails_the_whole_batch(answer: Any) -> None:
    error = batch_error(SQS, answer)
    assert error.error_type == "Batch.InvalidResponse"
    assert "must answer an array with one outcome per record" in error.message


def test_an_answer_that_is_not_json_fails_the_whole_batch() -> None:
    out = hooks.before(dumps(SQS), DEFAULT)
    with pytest.raises(hooks.BatchError) as caught:
        hooks.after(b"<ok/>", out.state, DEFAULT)
    assert caught.value.message.startswith("the handler's answer is not JSON")


# ------------------------------------------------------------------ the rules


def test_unreported_records_fail_by_default_or_succeed_when_configured() -> None:
    event = sqs_batch_of(4)
    ids = sqs_ids(event)
    assert run(event, [None, None]) == failures(ids[2], ids[3])
    assert run(event, [None, "x"], BatchConfig(unreported="succeed")) == failures(ids[1])


def test_all_failed_is_an_error_by_default_or_a_full_report() -> None:
    error = batch_error(SQS, ["a", "b"])
    assert error.error_type == "Batch.AllFailed"
    assert error.message == f"all 2 records of the sqs batch failed; first: '{SQS_IDS[0]}': a"
    assert error.details == {"failures": [{"itemIdentifier": SQS_IDS[0], "reason": "a"},
                                          {"itemIdentifier": SQS_IDS[1], "reason": "b"}]}
    assert run(SQS, ["a", "b"], BatchConfig(all_failed="report")) == failures(*SQS_IDS)


def test_fifo_reports_the_first_failure_and_every_later_record() -> None:
    event = fifo_batch(["a", "b", "a", "c"])
    ids = sqs_ids(event)
    assert run(event, [None, "stock unavailable", None, None]) == failures(*ids[1:])
    # Stopped at the failure, as the README tells FIFO handlers to: the same answer.
    assert run(event, [None, "stock unavailable"]) == failures(*ids[1:])
    # Unreported records of a FIFO batch are never taken as processed.
    assert run(event, [None, None], BatchConfig(unreported="succeed")) == failures(*ids[2:])


def test_fifo_group_scope_only_fails_the_later_records_of_that_group() -> None:
    event = fifo_batch(["a", "b", "a", "c", "b"])
    ids = sqs_ids(event)
    config = BatchConfig(fifo_scope="group")
    assert run(event, [None, "x", None, None, None], config) == failures(ids[1], ids[4])


def test_a_standard_queue_does_not_get_the_fifo_rule() -> None:
    event = sqs_batch_of(3)
    assert run(event, ["x", None, None]) == failures(sqs_ids(event)[0])


def test_failures_are_logged_one_json_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    run(SQS, [None, {"errorType": "KeyError", "errorMessage": "'sku'"}])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines == [{"level": "WARN", "message": "batch record failed", "source": "sqs", "index": 1,
                      "itemIdentifier": SQS_IDS[1], "reason": "KeyError: 'sku'"}]
    run(SQS, [None, "quiet"], BatchConfig(log_failures=False))
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ decoding


def test_json_decoding_hands_the_handler_parsed_bodies() -> None:
    out = hooks.before(raw("sqs-batch.json"), BatchConfig(decode="json"))
    assert out.payload is not None
    records = json.loads(out.payload)["Records"]
    assert records[1]["decoded"] == {"message": "foo1"}
    assert records[0]["decodeError"] == "field 'body' is not JSON: Expecting value: line 1 column 1 (char 0)"
    # The body that did not decode fails whatever the handler answers for it.
    result = hooks.after(dumps([None, None]), out.state, BatchConfig(decode="json"))
    assert json.loads(result or b"") == failures(SQS_IDS[0])


def test_a_lone_surrogate_in_a_body_survives_decoding() -> None:
    event = json.loads(json.dumps(SQS))
    event["Records"][0]["body"] = '{"name": "\\ud800"}'
    out = hooks.before(dumps(event), BatchConfig(decode="json"))
    assert json.loads(out.payload or b"")["Records"][0]["decoded"] == {"name": "\ud800"}


def test_text_decoding_base64_decodes_kinesis_data() -> None:
    out = hooks.before(raw("kinesis.json"), BatchConfig(decode="text"))
    assert [r["decoded"] for r in json.loads(out.payload or b"")["Records"]] == ["Hello World", "Hello World"]


def test_gzipped_kinesis_data_is_a_decode_failure_not_a_crash() -> None:
    out = hooks.before(raw("kinesis-cloudwatch-logs-payload.json"), BatchConfig(decode="text"))
    record = json.loads(out.payload or b"")["Records"][0]
    assert record["decodeError"].startswith("field 'kinesis.data' is not UTF-8 text")


def test_dynamodb_records_are_not_decoded() -> None:
    out = hooks.before(raw("dynamodb-stream.json"), BatchConfig(decode="json"))
    assert out.payload is None


# ------------------------------------------------------------------ large batches


@pytest.fixture
def spill_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return Path(store.spill_folder())


def test_a_large_batch_keeps_its_plan_in_a_file_the_after_hook_deletes(spill_dir: Path) -> None:
    event = sqs_batch_of(2000)
    ids = sqs_ids(event)
    out = hooks.before(dumps(event), DEFAULT)
    assert len(json.dumps(out.state)) < 1000 and "planFile" in out.state
    assert oct(spill_dir.stat().st_mode & 0o777) == "0o700"
    answer = [None] * 2000
    answer[1500] = "x"
    assert json.loads(hooks.after(dumps(answer), out.state, DEFAULT) or b"") == failures(ids[1500])
    assert list(spill_dir.iterdir()) == []


def test_the_error_hook_deletes_the_file_and_a_lost_file_fails_the_batch(spill_dir: Path) -> None:
    out = hooks.before(dumps(sqs_batch_of(2000)), DEFAULT)
    hooks.error(out.state)
    assert list(spill_dir.iterdir()) == []
    with pytest.raises(hooks.BatchError) as caught:
        hooks.after(b"[]", out.state, DEFAULT)
    assert caught.value.error_type == "Batch.StateLost"


def test_stale_plan_files_are_swept(spill_dir: Path) -> None:
    first = hooks.before(dumps(sqs_batch_of(2000)), DEFAULT)
    stale = spill_dir / first.state["planFile"]
    os.utime(stale, (0, 0))
    hooks.before(dumps(sqs_batch_of(2000)), DEFAULT)
    assert not stale.exists() and len(list(spill_dir.iterdir())) == 1
