"""What the idempotency middleware costs: cold start (imports and configuration), an
exec-mode spawn, persistent-mode hooks, and the DynamoDB client against boto3's on moto's
server (loopback, so the figures are the clients' own cost, not DynamoDB's latency).

    PYTHONPATH=$PWD python3 benchmarks/idempotency_cost.py

Needs the test extra (boto3, moto[server]). A few dozen calls each: a figure, not a load test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "middlewares" / "idempotency"), str(REPO / "tests" / "middlewares"),
                str(REPO / "middlewares" / "idempotency"), str(REPO)]

from idempotency_support import EXECUTABLE, Middleware, clean_env, now_ms  # noqa: E402

CHILD = """
import sys, time
sys.path[:0] = [{idem!r}, {lib!r}]
import json, openruntime_middleware
started = time.perf_counter()
{imports}
print((time.perf_counter() - started) * 1000)
"""


def child_ms(imports: str, runs: int = 5) -> float:
    code = CHILD.format(idem=str(REPO / "middlewares" / "idempotency"),
                        lib=str(REPO / "middlewares" / "lib" / "python"), imports=imports)
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(runs))


def main() -> None:
    folder = tempfile.mkdtemp()
    file_cfg = f"from aws_idempotency import config; config.load({{'IDEMPOTENCY_FILE_DIR': {folder!r}}})"
    table_cfg = ("from aws_idempotency import config; config.load({'IDEMPOTENCY_TABLE': 't', "
                 "'AWS_REGION': 'us-east-1', 'AWS_ACCESS_KEY_ID': 'a', 'AWS_SECRET_ACCESS_KEY': 'b'})")
    print(f"cold start, modules + configuration, file store:     {child_ms(file_cfg):6.1f} ms")
    print(f"cold start, modules + configuration, DynamoDB store: {child_ms(table_cfg):6.1f} ms")
    boto = child_ms("import boto3; boto3.client('dynamodb', region_name='us-east-1')")
    print(f"for comparison: import boto3 + boto3.client('dynamodb'): {boto:6.1f} ms")
    print(f"for comparison: import jmespath:                      {child_ms('import jmespath'):6.1f} ms")

    env = clean_env({"IDEMPOTENCY_FILE_DIR": folder, "OPENRUNTIME_STATE_FILE": os.path.join(folder, "state"),
                     "OPENRUNTIME_FUNCTION_ARN": "arn:aws:lambda:us-east-1:1:function:f"})
    spawns, bare = [], []
    for i in range(10):
        env["OPENRUNTIME_DEADLINE_MS"] = str(now_ms() + 30_000)
        started = time.perf_counter()
        subprocess.run([str(EXECUTABLE), "before"], input=json.dumps({"n": i}).encode(), env=env,
                       capture_output=True, check=True)
        spawns.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bare.append(time.perf_counter() - started)
    print(f"exec-mode `idempotency before` (file store), median of 10: {statistics.median(spawns) * 1000:.1f} ms "
          f"(python3 -c pass: {statistics.median(bare) * 1000:.1f} ms)")

    mw = Middleware({"IDEMPOTENCY_FILE_DIR": folder})
    started = time.perf_counter()
    for i in range(100):
        header, _ = mw.call("before", json.dumps({"m": i}).encode())
        mw.call("after", b'{"ok":true}', state=header["state"])
    print(f"persistent before+after, new key (file store), mean of 100: {(time.perf_counter() - started) * 10:.3f} ms")
    started = time.perf_counter()
    for i in range(100):
        mw.call("before", json.dumps({"m": i}).encode())
    print(f"persistent before, replay (file store), mean of 100: {(time.perf_counter() - started) * 10:.3f} ms")
    mw.close()
    dynamodb_clients()


def dynamodb_clients() -> None:
    import boto3
    from aws_idempotency.dynamodb_client import DynamoDBClient
    from aws_idempotency.sigv4 import Credentials

    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        url = next(line.split("Running on ")[1].strip() for line in server.stdout if "Running on" in line)
        theirs = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="a", aws_secret_access_key="b")
        theirs.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        ours = DynamoDBClient("us-east-1", Credentials("a", "b"), url)
        calls = {
            "ours": lambda i: ours.call("GetItem", {"TableName": "t", "Key": {"id": {"S": f"k{i}"}},
                                                    "ConsistentRead": True}, 2),
            "boto3": lambda i: theirs.get_item(TableName="t", Key={"id": {"S": f"k{i}"}}, ConsistentRead=True),
        }
        for name, call in calls.items():
            call(0)
            started = time.perf_counter()
            for i in range(30):
                call(i)
            print(f"GetItem on moto's server, {name}: {(time.perf_counter() - started) / 30 * 1000:.2f} ms/call")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
