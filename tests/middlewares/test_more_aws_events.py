"""More real AWS event samples (tests/middlewares/fixtures/more-aws-events, see SOURCES.md
there) through the real middleware executables, as the orchestrator runs them.

The bulk goes through one persistent process per middleware (a frame per sample, so the
whole folder takes a second or two); a few samples also go through exec mode. What is
checked is what a user would notice: which events become CloudEvents, with the
attributes the mappings prescribe (computed here from the event itself, following
middlewares/cloudevents/README.md and the reference), which events the `http`
middleware takes for HTTP requests and what the handler then sees and the caller gets,
and that `validate` and `log` agree and pass payloads on untouched.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

import pytest
from aws_fixtures import PersistentProcess, persistent
from cloudevents.core.formats.json import JSONFormat
from dateutil.parser import isoparse

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "fixtures" / "more-aws-events"
NAMES = sorted(p.name for p in SAMPLES.glob("*.json"))
MIDDLEWARES = HERE.parents[1] / "middlewares"

REQUEST_ID = "0f7e8d9c-1b2a-4c3d-8e9f-a0b1c2d3e4f5"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:more-samples"
BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "OPENRUNTIME_REQUEST_ID": REQUEST_ID,
    "OPENRUNTIME_FUNCTION_ARN": FUNCTION_ARN,
    "OPENRUNTIME_CONTENT_TYPE": "application/json",
}

# What the cloudevents middleware must make of each sample: (detected kind, outcome), where
# the outcome is "converted", "passthrough" (no mapping: unchanged), or "invalid:<field>"
# (it claims a mapped shape but lacks what the mapping needs: the error names the field).
CLOUDEVENTS: dict[str, tuple[str, str]] = {
    "alb-multivalue-empty-query-empty-body.json": ("alb", "converted"),
    "alb-request-mixed-single-and-multivalue.json": ("alb", "converted"),
    "alb-single-value-duplicate-case-headers.json": ("alb", "converted"),
    "alb-single-value-trailing-slash.json": ("alb", "converted"),
    "apigw-v1-authorizer-request-type.json": ("apigw-authorizer", "passthrough"),
    "apigw-v1-empty-body-no-domain.json": ("apigw-v1", "converted"),
    "apigw-v1-http-api-payload-1.0-null-maps.json": ("apigw-v1", "converted"),
    "apigw-v1-minimal-principal-id.json": ("apigw-v1", "invalid:requestContext.domainName"),
    "apigw-v1-restapi-openapi-request.json": ("apigw-v1", "converted"),
    "apigw-v1-with-connection-id-custom-domain.json": ("apigw-v1", "converted"),
    "apigw-v2-authorizer-request.json": ("apigw-authorizer", "passthrough"),
    "apigw-v2-base64-flag-nonbase64-body.json": ("apigw-v2", "converted"),
    "apigw-v2-get-no-body.json": ("apigw-v2", "converted"),
    "apigw-v2-iam-cognito-identity.json": ("apigw-v2", "converted"),
    "apigw-v2-post-text-body.json": ("apigw-v2", "converted"),
    "apigw-v2-request-jwt-authorizer.json": ("apigw-v2", "converted"),
    "apigw-v2-request-lambda-authorizer.json": ("apigw-v2", "converted"),
    "apigw-websocket-connect-captured.json": ("websocket", "passthrough"),
    "apigw-websocket-connect-go.json": ("websocket", "passthrough"),
    "apigw-websocket-message-captured.json": ("websocket", "passthrough"),
    "appsync-events-publish.json": ("unknown", "passthrough"),
    "appsync-lambda-authorizer-request.json": ("unknown", "passthrough"),
    "bedrock-agent-post.json": ("unknown", "passthrough"),
    "cloudformation-custom-resource-create.json": ("cloudformation", "passthrough"),
    "cloudfront-viewer-request-body.json": ("cloudfront", "passthrough"),
    "cloudwatch-alarm-action.json": ("unknown", "passthrough"),
    "cloudwatch-logs-dotnet.json": ("cloudwatch-logs", "converted"),
    "cognito-pre-token-generation-v2.json": ("cognito-userpool", "passthrough"),
    "connect-contact-flow.json": ("unknown", "passthrough"),
    "dynamodb-insert-modify-remove.json": ("dynamodb", "converted"),
    "dynamodb-ms-timestamp-ttl-remove.json": ("dynamodb", "converted"),
    "dynamodb-tumbling-window-no-timestamps.json": ("dynamodb", "converted"),
    "eventbridge-autoscaling-launch.json": ("eventbridge", "converted"),
    "eventbridge-custom-minimal-no-id.json": ("eventbridge", "invalid:id"),
    "eventbridge-ecr-image-scan.json": ("eventbridge", "converted"),
    "eventbridge-s3-object-deleted.json": ("eventbridge", "converted"),
    "eventbridge-s3-object-restore-completed.json": ("eventbridge", "converted"),
    "eventbridge-scheduler-string-detail.json": ("eventbridge", "converted"),
    "firehose-kinesis-source.json": ("firehose", "passthrough"),
    "function-url-browser-headers-placeholder-domain.json": ("function-url", "converted"),
    "function-url-iam-null-authentication.json": ("function-url", "converted"),
    "kafka-msk-go.json": ("kafka", "passthrough"),
    "kinesis-integer-timestamp-encryption.json": ("kinesis", "converted"),
    "kinesis-tumbling-window.json": ("kinesis", "converted"),
    "kinesis-two-text-records-window.json": ("kinesis", "converted"),
    "lambda-destination-on-failure.json": ("unknown", "passthrough"),
    "lex-v2-fulfillment.json": ("unknown", "passthrough"),
    "mq-activemq-aws-amq-source.json": ("mq", "passthrough"),
    "mq-activemq-aws-mq-source.json": ("mq", "passthrough"),
    "mq-rabbitmq.json": ("mq", "passthrough"),
    "s3-batch-operations-v2.json": ("s3-batch", "passthrough"),
    "s3-glacier-restore-completed.json": ("s3", "converted"),
    "s3-object-lambda-get.json": ("unknown", "passthrough"),
    "s3-put-epoch-zero-empty-version.json": ("s3", "converted"),
    "secretsmanager-rotation.json": ("secretsmanager", "passthrough"),
    "sns-binary-attribute-truncated-arn.json": ("sns", "converted"),
    "sns-json-message-with-newlines.json": ("sns", "converted"),
    "sqs-empty-body.json": ("sqs", "converted"),
    "sqs-message-attributes-lists-null-binary.json": ("sqs", "converted"),
    "sqs-sns-envelope-body.json": ("sqs", "converted"),
    "vpc-lattice-v1-request.json": ("vpc-lattice", "passthrough"),
}
BATCH_KINDS = {"s3", "sns", "sqs", "kinesis", "dynamodb", "cloudwatch-logs"}

# The HTTP requests among the samples and their source ("invalid:<field>": HTTP-shaped
# but broken, the middleware must fail naming the field). Every other sample is not an
# HTTP request for `http` (WebSocket, authorizers, VPC Lattice, …) and passes through.
HTTP: dict[str, str] = {
    "alb-multivalue-empty-query-empty-body.json": "alb",
    "alb-request-mixed-single-and-multivalue.json": "alb",
    "alb-single-value-duplicate-case-headers.json": "alb",
    "alb-single-value-trailing-slash.json": "alb",
    "apigw-v1-empty-body-no-domain.json": "apigw-v1",
    "apigw-v1-http-api-payload-1.0-null-maps.json": "apigw-v1",
    "apigw-v1-minimal-principal-id.json": "invalid:requestContext.stage",
    "apigw-v1-restapi-openapi-request.json": "apigw-v1",
    "apigw-v1-with-connection-id-custom-domain.json": "apigw-v1",
    "apigw-v2-base64-flag-nonbase64-body.json": "invalid:body",
    "apigw-v2-get-no-body.json": "apigw-v2",
    "apigw-v2-iam-cognito-identity.json": "apigw-v2",
    "apigw-v2-post-text-body.json": "apigw-v2",
    "apigw-v2-request-jwt-authorizer.json": "apigw-v2",
    "apigw-v2-request-lambda-authorizer.json": "apigw-v2",
    "function-url-browser-headers-placeholder-domain.json": "function-url",
    "function-url-iam-null-authentication.json": "function-url",
}
HTTP_REQUESTS = sorted(name for name, source in HTTP.items() if not source.startswith("invalid:"))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def event_of(name: str) -> Any:
    return json.loads(sample(name))


def executable(name: str) -> Path:
    return MIDDLEWARES / name / name


def call(process: PersistentProcess, middleware: str, payload: bytes, hook: str = "before",
         state: Any = None) -> tuple[dict[str, Any], bytes]:
    header = {"hook": hook, "request_id": REQUEST_ID, "function_arn": FUNCTION_ARN,
              "content_type": "application/json", "middleware": middleware, "state": state}
    return process.send(header, payload)


def started(middleware: str, **env: str) -> Iterator[PersistentProcess]:
    with persistent(executable(middleware), {**BASE_ENV, "OPENRUNTIME_MIDDLEWARE": middleware,
                                             **env}) as process:
        ready, _ = process.read()
        assert ready["ready"] is True
        yield process


@pytest.fixture(scope="module")
def cloudevents() -> Iterator[PersistentProcess]:
    yield from started("cloudevents")


@pytest.fixture(scope="module")
def cloudevents_wrap_payload() -> Iterator[PersistentProcess]:
    yield from started("cloudevents", CLOUDEVENTS_UNKNOWN="wrap", CLOUDEVENTS_DATA="payload")


@pytest.fixture(scope="module")
def http() -> Iterator[PersistentProcess]:
    yield from started("http")


def test_every_sample_has_an_expectation() -> None:
    assert len(NAMES) >= 30
    assert sorted(CLOUDEVENTS) == NAMES
    assert set(HTTP) <= set(NAMES)
    assert (SAMPLES / "SOURCES.md").read_text().count("| `") >= len(NAMES)
    for name in NAMES:  # and is recorded with its origin
        assert f"| `{name}` |" in (SAMPLES / "SOURCES.md").read_text(), name


# ------------------------------------------------------------ what the mappings prescribe


def from_epoch(value: Any, digits: int) -> datetime:
    """Epoch seconds (digits=0) or ms (digits=3), exactly: Decimal, not float."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        microseconds=int(Decimal(str(value)) * 10 ** (6 - digits)))


def header(event: dict[str, Any], name: str) -> str | None:
    """The first value of a header, any case, from either header map."""
    for key in ("headers", "multiValueHeaders"):
        for header_name, value in (event.get(key) or {}).items():
            if header_name.lower() == name:
                return value[0] if isinstance(value, list) else value
    return None


def logs_document(event: dict[str, Any]) -> dict[str, Any]:
    compressed = base64.b64decode(event["awslogs"]["data"])
    raw = gzip.decompress(compressed) if compressed[:2] == b"\x1f\x8b" else zlib.decompress(compressed)
    document: dict[str, Any] = json.loads(raw)
    return document


def expected_events(kind: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The attributes each produced CloudEvent must have; `time` is a datetime, None for
    none; `subject` None for none."""
    records = event.get("Records", [])
    if kind == "s3":
        return [{
            "id": f"{r['responseElements']['x-amz-request-id']}.{r['responseElements']['x-amz-id-2']}",
            "source": f"aws:s3.{r['awsRegion']}.{r['s3']['bucket']['name']}",
            # The notification's own spelling, without the configuration's "s3:" prefix.
            "type": "com.amazonaws.s3." + r["eventName"].removeprefix("s3:"),
            "subject": r["s3"]["object"]["key"],
            "time": isoparse(r["eventTime"]),
        } for r in records]
    if kind == "sqs":
        return [{"id": r["messageId"], "source": r["eventSourceARN"], "type": "com.amazonaws.sqs.message",
                 "subject": None, "time": from_epoch(r["attributes"]["SentTimestamp"], 3)} for r in records]
    if kind == "sns":
        return [{"id": r["Sns"]["MessageId"], "source": r.get("EventSubscriptionArn") or r["Sns"]["TopicArn"],
                 "type": "com.amazonaws.sns." + r["Sns"]["Type"], "subject": r["Sns"].get("Subject") or None,
                 "time": isoparse(r["Sns"]["Timestamp"])} for r in records]
    if kind == "kinesis":
        return [{"id": r["eventID"], "source": r["eventSourceARN"], "type": "com.amazonaws.kinesis.record",
                 "subject": r["kinesis"]["partitionKey"],
                 "time": from_epoch(r["kinesis"]["approximateArrivalTimestamp"], 0)} for r in records]
    if kind == "dynamodb":
        out = []
        for r in records:
            stream = r["dynamodb"]
            created = stream.get("ApproximateCreationDateTime")
            keys = sorted((name, next(iter(typed.values()))) for name, typed in stream["Keys"].items())
            out.append({
                "id": r["eventID"], "source": r["eventSourceARN"],
                "type": "com.amazonaws.dynamodb." + r["eventName"], "subject": urlencode(keys),
                # Seconds; a value too large to be seconds is milliseconds (README).
                "time": None if created is None else from_epoch(created, 3 if created >= 10**11 else 0),
            })
        return out
    if kind == "cloudwatch-logs":
        document = logs_document(event)
        group = document["logGroup"]
        return [{"id": e["id"], "type": "com.amazonaws.logs." + document["messageType"],
                 "source": document["owner"] + (group if group.startswith("/") else "/" + group),
                 "subject": document["logStream"], "time": from_epoch(e["timestamp"], 3)}
                for e in document["logEvents"]]
    if kind == "eventbridge":
        return [{"id": event["id"], "source": event["source"], "type": event["detail-type"],
                 "subject": (event.get("resources") or [None])[0], "time": isoparse(event["time"])}]
    if kind == "alb":
        return [{"id": header(event, "x-amzn-trace-id") or REQUEST_ID,
                 "source": event["requestContext"]["elb"]["targetGroupArn"],
                 "type": "com.amazonaws.elasticloadbalancing.request", "subject": event["path"], "time": None}]
    context = event["requestContext"]
    path = event["path"] if kind == "apigw-v1" else event["rawPath"]
    epoch = context["requestTimeEpoch"] if kind == "apigw-v1" else context["timeEpoch"]
    return [{"id": context["requestId"], "source": (context.get("domainName") or header(event, "host")) + path,
             "type": "com.amazonaws.apigateway.request", "subject": path, "time": from_epoch(epoch, 3)}]


# ------------------------------------------------------------------------- cloudevents


@pytest.mark.parametrize("name", NAMES)
def test_cloudevents_before(name: str, cloudevents: PersistentProcess) -> None:
    kind, outcome = CLOUDEVENTS[name]
    answer, payload = call(cloudevents, "cloudevents", sample(name))
    if outcome.startswith("invalid:"):
        assert answer["action"] == "fail", payload
        error = json.loads(payload)
        assert error["errorType"] == "CloudEvents.InvalidEvent"
        assert error["field"] == outcome.removeprefix("invalid:")
        assert f"'{error['field']}'" in error["errorMessage"]
        return
    assert answer["action"] == "continue", payload
    assert answer["state"]["kind"] == kind
    if outcome == "passthrough":
        assert payload == sample(name)  # byte-identical: Cognito & co. need their event back
        assert answer["state"]["mode"] == "passthrough"
        return
    produced = json.loads(payload)
    # A batch source is always an array (even of one); the others one object.
    assert isinstance(produced, list) == (kind in BATCH_KINDS)
    events = produced if isinstance(produced, list) else [produced]
    expected = expected_events(kind, event_of(name))
    assert len(events) == len(expected) == answer["state"]["count"]
    for ce, want in zip(events, expected, strict=True):
        assert ce["specversion"] == "1.0"
        for attribute in ("id", "source", "type", "subject"):
            assert ce.get(attribute) == want[attribute], (attribute, ce)
        assert all(ce[a] for a in ("id", "source", "type"))  # never empty
        if want["time"] is None:
            assert "time" not in ce
        else:
            assert isoparse(ce["time"]) == want["time"]
        # Reads back with the SDK, unchanged.
        read = JSONFormat().read(None, json.dumps(ce).encode())
        for attribute in ("id", "source", "type", "subject", "datacontenttype"):
            assert read.get_attributes().get(attribute) == ce.get(attribute)
        if "data_base64" in ce:
            assert read.get_data() == base64.b64decode(ce["data_base64"])
        else:
            assert read.get_data() == ce.get("data")


@pytest.mark.parametrize("name", [n for n, (kind, outcome) in CLOUDEVENTS.items()
                                  if kind in ("sqs", "sns", "kinesis", "eventbridge") and outcome == "converted"])
def test_cloudevents_data_is_the_message(name: str, cloudevents_wrap_payload: PersistentProcess) -> None:
    """CLOUDEVENTS_DATA=payload for SQS/SNS; Kinesis data is the decoded record and
    EventBridge data the detail whatever the option."""
    kind, _ = CLOUDEVENTS[name]
    event = event_of(name)
    answer, payload = call(cloudevents_wrap_payload, "cloudevents", sample(name))
    assert answer["action"] == "continue", payload
    produced = json.loads(payload)
    if kind == "eventbridge":
        assert produced["data"] == event["detail"]
        assert (produced["account"], produced["region"]) == (event["account"], event["region"])
        return
    messages = {
        "sqs": lambda r: r["body"].encode(),
        "sns": lambda r: r["Sns"]["Message"].encode(),
        "kinesis": lambda r: base64.b64decode(r["kinesis"]["data"]),
    }[kind]
    for ce, record in zip(produced, event["Records"], strict=True):
        raw = messages(record)
        try:
            value = json.loads(raw)
        except ValueError:
            assert ce["data"] == raw.decode()  # text stays text, "" included
            assert ce["datacontenttype"].startswith("text/plain")
        else:
            assert ce["data"] == value  # JSON is carried as its value, not as a string
            assert ce["datacontenttype"] == "application/json"


@pytest.mark.parametrize("name", [n for n in NAMES if CLOUDEVENTS[n][1] == "passthrough"])
def test_cloudevents_wraps_unmapped_events(name: str, cloudevents_wrap_payload: PersistentProcess) -> None:
    kind, _ = CLOUDEVENTS[name]
    answer, payload = call(cloudevents_wrap_payload, "cloudevents", sample(name))
    assert answer["action"] == "continue", payload
    wrapped = json.loads(payload)
    assert (wrapped["id"], wrapped["source"], wrapped["type"]) == (
        REQUEST_ID, FUNCTION_ARN, "com.amazonaws.lambda.unknown")
    assert wrapped["data"] == event_of(name)
    assert wrapped.get("awskind") == (None if kind == "unknown" else kind)
    JSONFormat().read(None, payload)


# -------------------------------------------------------------------------------- http


def expected_query(source: str, event: dict[str, Any]) -> dict[str, list[str]]:
    if source in ("apigw-v2", "function-url"):
        return parse_qs(event.get("rawQueryString") or "", keep_blank_values=True)
    multi = event.get("multiValueQueryStringParameters")
    query = multi if multi is not None else {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    if source == "alb":  # ALB hands the query on still URL-encoded
        return {unquote_plus(k): [unquote_plus(v) for v in vs] for k, vs in query.items()}
    return query


def expected_headers(event: dict[str, Any]) -> dict[str, list[str]]:
    multi = event.get("multiValueHeaders")
    pairs = ([(k, v) for k, vs in multi.items() for v in vs] if multi is not None
             else list((event.get("headers") or {}).items()))
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_http_before(name: str, http: PersistentProcess) -> None:
    source = HTTP.get(name)
    answer, payload = call(http, "http", sample(name))
    if source is None:
        assert answer["action"] == "continue"
        assert payload == sample(name) and answer.get("state") is None
        return
    if source.startswith("invalid:"):
        assert answer["action"] == "fail", payload
        error = json.loads(payload)
        assert error["errorType"] == "HTTP.InvalidRequest"
        assert error["field"] == source.removeprefix("invalid:")
        return
    event = event_of(name)
    request = json.loads(payload)
    assert answer["action"] == "continue" and answer["state"]["source"] == source
    assert request["source"] == source
    v2 = source in ("apigw-v2", "function-url")
    assert request["method"] == (event["requestContext"]["http"]["method"] if v2 else event["httpMethod"])
    assert request["path"] == (event["rawPath"] if v2 else event["path"])
    assert request["query"] == expected_query(source, event)
    assert parse_qs(request["rawQuery"], keep_blank_values=True) == expected_query(source, event)
    headers = expected_headers(event)
    if v2 and event.get("cookies") and "cookie" not in headers:
        headers["cookie"] = ["; ".join(event["cookies"])]  # v2 takes cookies out of the headers
    assert request["headers"] == headers
    if v2:
        assert request["cookies"] == (event.get("cookies") or [])
    else:
        assert request["cookies"] == [c.strip() for v in headers.get("cookie", []) for c in v.split(";")]
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    assert (request["body"], request["isBase64Encoded"]) == (body, False)
    assert request["requestContext"] == event["requestContext"]
    assert request["requestId"] == (headers.get("x-amzn-trace-id", [None])[0] if source == "alb"
                                    else event["requestContext"]["requestId"])


@pytest.mark.parametrize("name", HTTP_REQUESTS)
def test_http_after_and_error_answer_in_the_source_shape(name: str, http: PersistentProcess) -> None:
    source = HTTP[name]
    event = event_of(name)
    answer, _ = call(http, "http", sample(name))
    state = answer["state"]
    reply = {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Seen": "yes"},
             "cookies": ["session=abc; Path=/"], "body": {"created": True}}
    answer, payload = call(http, "http", json.dumps(reply).encode(), "after", state)
    assert answer["action"] == "continue", payload
    response = json.loads(payload)
    assert response["statusCode"] == 201
    assert json.loads(response["body"]) == {"created": True} and response["isBase64Encoded"] is False
    # ALB answers in the header mode its target group uses; multi-value mode also
    # sends a multi-value query map.
    alb_multi = event.get("multiValueHeaders") is not None or event.get("multiValueQueryStringParameters") is not None
    if source in ("apigw-v2", "function-url"):
        assert response["cookies"] == ["session=abc; Path=/"] and response["headers"]["X-Seen"] == "yes"
        assert "multiValueHeaders" not in response
    elif source == "apigw-v1" or alb_multi:
        assert response["multiValueHeaders"]["Set-Cookie"] == ["session=abc; Path=/"]
        assert response["multiValueHeaders"]["X-Seen"] == ["yes"]
    else:
        assert response["headers"]["Set-Cookie"] == "session=abc; Path=/" and "multiValueHeaders" not in response
    if source == "alb":
        assert response["statusDescription"] == "201 Created"

    answer, payload = call(http, "http", b'{"errorType": "KeyError", "errorMessage": "boom"}', "error", state)
    assert answer["action"] == "respond"
    failure = json.loads(payload)
    assert failure["statusCode"] == 500
    assert json.loads(failure["body"]) == {"message": "Internal Server Error", "requestId": REQUEST_ID}
    assert set(failure) - {"statusDescription"} == set(response) - {"statusDescription"}


# ---------------------------------------------------------------- validate and log


def test_validate_and_log_agree_on_every_sample() -> None:
    """validate takes the same events for HTTP requests as http (their body is checked
    and a bad one answered 400 in the source's shape); every other event is checked
    whole. log passes every payload on byte-identical and logs one JSON line each."""
    schema = json.dumps({"not": {}})  # nothing is valid: every event shows its path
    with persistent(executable("validate"), {**BASE_ENV, "OPENRUNTIME_MIDDLEWARE": "validate",
                                            "VALIDATE_SCHEMA_JSON": schema}) as validate:
        validate.read()
        for name in NAMES:
            answer, payload = call(validate, "validate", sample(name))
            if name in HTTP:  # broken ones too: their body is what validate reads
                assert answer["action"] == "respond", name
                response = json.loads(payload)
                assert response["statusCode"] == 400, name
                assert set(response) >= {"statusCode", "body", "isBase64Encoded"}
            else:
                assert answer["action"] == "fail", name
                assert json.loads(payload)["errorType"] == "Validation.Failed"
    # Short previews: STDERR is read only at the end, so all lines must fit the pipe.
    with persistent(executable("log"), {**BASE_ENV, "OPENRUNTIME_MIDDLEWARE": "log",
                                       "LOG_MAX_BYTES": "120"}) as log:
        log.read()
        for name in NAMES:
            answer, payload = call(log, "log", sample(name))
            assert answer["action"] == "continue" and payload == sample(name), name
    lines = [json.loads(line) for line in log.log.splitlines() if line.strip()]
    assert len(lines) == len(NAMES)
    assert all(line["hook"] == "before" and line["requestId"] == REQUEST_ID for line in lines)


# ------------------------------------------------------------------------ exec mode


def run_exec(middleware: str, hook: str, payload: bytes, state_file: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**BASE_ENV, "OPENRUNTIME_MIDDLEWARE": middleware, "OPENRUNTIME_STATE_FILE": str(state_file)}
    return subprocess.run([str(executable(middleware)), hook], input=payload, capture_output=True,
                          env=env, timeout=30, check=False)


@pytest.mark.parametrize("name", ["apigw-v1-with-connection-id-custom-domain.json",
                                  "alb-single-value-duplicate-case-headers.json"])
def test_exec_mode_http_round_trip(name: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_bytes(b"")
    before = run_exec("http", "before", sample(name), state)
    assert before.returncode == 0, before.stderr
    request = json.loads(before.stdout)
    assert request["source"] == HTTP[name]
    after = run_exec("http", "after", b'{"statusCode": 204}', state)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["statusCode"] == 204


@pytest.mark.parametrize("name", ["dynamodb-ms-timestamp-ttl-remove.json", "s3-glacier-restore-completed.json",
                                  "eventbridge-custom-minimal-no-id.json"])
def test_exec_mode_cloudevents(name: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_bytes(b"")
    done = run_exec("cloudevents", "before", sample(name), state)
    kind, outcome = CLOUDEVENTS[name]
    if outcome.startswith("invalid:"):
        assert done.returncode == 4  # the error object on STDOUT, no traceback
        assert json.loads(done.stdout)["field"] == outcome.removeprefix("invalid:")
        assert "Traceback" not in done.stderr.decode()
        return
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    assert [e["id"] for e in events] == [w["id"] for w in expected_events(kind, event_of(name))]
    assert json.loads(state.read_text())["count"] == len(events)


# ------------------------------------------------ samples bent the way producers bend them


def test_sns_message_that_is_not_a_string_is_named_not_a_crash(
        cloudevents_wrap_payload: PersistentProcess) -> None:
    event = event_of("sns-json-message-with-newlines.json")
    event["Records"][0]["Sns"]["Message"] = {"id": 42}  # a producer that forgot to encode it
    answer, payload = call(cloudevents_wrap_payload, "cloudevents", json.dumps(event).encode())
    assert answer["action"] == "fail"
    error = json.loads(payload)
    assert (error["errorType"], error["field"]) == ("CloudEvents.InvalidEvent", "Records[0].Sns.Message")


def test_alb_trace_id_is_found_whatever_the_header_case(cloudevents: PersistentProcess) -> None:
    event = event_of("alb-multivalue-empty-query-empty-body.json")
    headers = event["multiValueHeaders"]
    headers["X-Amzn-Trace-Id"] = headers.pop("x-amzn-trace-id")
    answer, payload = call(cloudevents, "cloudevents", json.dumps(event).encode())
    assert answer["action"] == "continue"
    assert json.loads(payload)["id"] == headers["X-Amzn-Trace-Id"][0]
