"""Through the real emulator and orchestrator, around a real Python handler that counts
its runs in a file: a failed run lets the retry run, a repeat gets the stored response and
the handler does not run again; in exec mode (file store) and persistent mode (DynamoDB on
moto's server)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import pipeline_for
from idempotency_support import EXECUTABLE, FAKE_CREDENTIALS

from tests.conftest import orchestrated

APP = '''
import os

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")

def handler(event, context):
    with open(RUNS, "a") as f:
        f.write(context.aws_request_id + "\\n")
    with open(RUNS) as f:
        run = len(f.read().splitlines())
    if event.get("failFirst") and run == 1:
        raise RuntimeError("the first run fails")
    return {"orderId": event["orderId"], "run": run}
'''


@pytest.mark.parametrize(("mode", "store"), [("exec", "file"), ("persistent", "dynamodb")])
def test_a_retry_runs_once_and_repeats_get_the_stored_response(
        tmp_path: Path, request: pytest.FixtureRequest, mode: str, store: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent(APP))
    entry: dict[str, Any] = {"name": "idempotency", "command": str(EXECUTABLE), "mode": mode,
                             "hooks": ["before", "after", "error"]}
    env = {"IDEMPOTENCY_EVENT_KEY_JMESPATH": "orderId"}
    if store == "file":
        env["IDEMPOTENCY_FILE_DIR"] = str(tmp_path / "records")
    else:
        table = request.getfixturevalue("dynamodb")
        env.update(IDEMPOTENCY_TABLE=table.table, AWS_ENDPOINT_URL_DYNAMODB=table.url)
        entry["aws_credentials"] = True  # the function's credentials (here moto's fake ones)
    entry["env"] = env
    pipeline = pipeline_for(tmp_path, app, [entry])

    order = {"orderId": "o-1", "failFirst": True}
    with orchestrated(pipeline, env=FAKE_CREDENTIALS) as emulator:
        failed = emulator.invoke(json.dumps(order).encode())
        retried = emulator.invoke(json.dumps(order).encode())
        repeated = emulator.invoke(json.dumps(order).encode())
        same_key = emulator.invoke(json.dumps({**order, "note": "not part of the key"}).encode())
        other_key = emulator.invoke(json.dumps({"orderId": "o-2"}).encode())

    assert failed.function_error == "Unhandled"
    assert failed.json()["errorMessage"] == "the first run fails"
    assert retried.json() == {"orderId": "o-1", "run": 2}
    assert repeated.function_error is None and repeated.json() == {"orderId": "o-1", "run": 2}
    assert same_key.json() == {"orderId": "o-1", "run": 2}
    assert other_key.json() == {"orderId": "o-2", "run": 3}
    runs = (app / "runs").read_text().splitlines()
    assert runs == [failed.request_id, retried.request_id, other_key.request_id]  # never for a repeat
    if store == "dynamodb":
        items = table.items()
        assert [item["id"]["S"].split("#")[0] for item in items] == ["test_function"] * 2  # the function's name
        assert [item["status"]["S"] for item in items] == ["COMPLETED"] * 2


HTTP_APP = '''
import json, os

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")

def handler(request, context):
    with open(RUNS, "a") as f:
        f.write(context.aws_request_id + "\\n")
    with open(RUNS) as f:
        run = len(f.read().splitlines())
    if run == 1:
        raise ConnectionError("the payment provider did not answer")
    return {"statusCode": 200, "body": {"charged": json.loads(request["body"])["orderId"], "run": run}}
'''


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_a_failure_an_inner_http_turned_into_a_500_is_not_stored(tmp_path: Path, mode: str) -> None:
    """idempotency outside http: the handler's exception reaches idempotency as http's 500
    response, in `after`; stored, it would be replayed to every retry for an hour."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent(HTTP_APP))
    pipeline = pipeline_for(tmp_path, app, [
        {"name": "idempotency", "command": str(EXECUTABLE), "mode": mode, "hooks": ["before", "after", "error"],
         "env": {"IDEMPOTENCY_FILE_DIR": str(tmp_path / "records"),
                 "IDEMPOTENCY_EVENT_KEY_JMESPATH": "powertools_json(body).orderId"}},
        {"name": "http", "mode": mode, "hooks": ["before", "after", "error"]},
    ])
    event = json.dumps({"version": "2.0", "routeKey": "POST /pay", "rawPath": "/pay", "rawQueryString": "",
                        "headers": {"content-type": "application/json"},
                        "requestContext": {"http": {"method": "POST", "path": "/pay", "sourceIp": "127.0.0.1"},
                                           "requestId": "r", "stage": "$default", "domainName": "x.execute-api"},
                        "body": json.dumps({"orderId": "B1"}), "isBase64Encoded": False}).encode()
    with orchestrated(pipeline) as emulator:
        failed, retried, repeated = (emulator.invoke(event) for _ in range(3))
        answers = [failed.json(), retried.json(), repeated.json()]
    assert [a["statusCode"] for a in answers] == [500, 200, 200]
    assert json.loads(answers[1]["body"]) == json.loads(answers[2]["body"]) == {"charged": "B1", "run": 2}
    assert len((app / "runs").read_text().splitlines()) == 2  # the retry ran; the repeat was replayed
