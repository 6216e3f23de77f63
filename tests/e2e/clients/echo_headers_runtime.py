"""A minimal Runtime API client that answers each event with the headers it received.

It is a real client (like any third-party runtime): used to check that the orchestrator
hands the sub-runtime every header Lambda sent, unchanged.
"""

import http.client
import json
import os

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    response = conn.getresponse()
    body = response.read()
    headers = response.getheaders()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    answer = json.dumps({"headers": headers, "body": body.decode("latin-1"),
                         "cwd": os.getcwd(), "argv": os.sys.argv[1:]}).encode()
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=answer,
                 headers={"Content-Type": "application/json"})
    conn.getresponse().read()
