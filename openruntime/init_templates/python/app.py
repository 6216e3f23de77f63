"""The function's handler. pipeline.yml runs openruntime's middlewares around it:

* `http` turns API Gateway, Function URL and ALB events into one request shape
  (method, path, query, headers, cookies, body …) and what this handler returns into the
  response that front door expects; if the handler raises, the caller gets an HTTP 500.
* `log` writes one JSON line for the event and one for the response, secrets redacted.

Other events (SQS, S3, EventBridge …) reach the handler as AWS sent them.
"""

import json
import logging

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def handler(event, context):
    if "method" in event and "source" in event:  # an HTTP request, as `http` normalised it
        return http_request(event, context)
    if "Records" in event:
        return sqs_batch(event)
    return {"message": "Hello from openruntime!", "event": event}


def http_request(request, context):
    name = (request["query"].get("name") or ["world"])[0]
    return {
        "statusCode": 200,
        "headers": {"Cache-Control": "no-store"},
        # Any JSON value: `http` serialises it and adds Content-Type: application/json.
        "body": {
            "message": f"Hello, {name}!",
            "method": request["method"],
            "path": request["path"],
            "via": request["source"],  # apigw-v1, apigw-v2, function-url or alb
            "requestId": context.aws_request_id,
        },
    }


def sqs_batch(event):
    failed = []
    for record in event["Records"]:
        try:
            body = record["body"]
            message = json.loads(body) if body.startswith(("{", "[")) else body
            logger.info("message %s: %r", record["messageId"], message)
        except Exception:
            logger.exception("message %s failed", record.get("messageId"))
            failed.append({"itemIdentifier": record["messageId"]})
    # A partial batch response (with ReportBatchItemFailures on the SQS event source):
    # only the failed messages go back to the queue.
    return {"batchItemFailures": failed}
