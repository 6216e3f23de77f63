"""Tell which AWS source produced an event, from its shape alone.

The checks follow the reference's detection table, first match wins. They are loose on
purpose: an event that *claims* a known shape is then validated strictly by its
converter, so a broken API Gateway event gets an error naming the missing field instead
of slipping through as "unknown".
"""

from __future__ import annotations

from typing import Any

# Records[0].eventSource (or EventSource for SNS) → kind.
_RECORD_SOURCES = {
    "aws:s3": "s3",
    "aws:sqs": "sqs",
    "aws:sns": "sns",
    "aws:dynamodb": "dynamodb",
    "aws:kinesis": "kinesis",
    "aws:ses": "ses",
}


def record_source(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    source = record.get("eventSource", record.get("EventSource"))
    return source if isinstance(source, str) else None


def _detect_records(records: list[Any]) -> str:
    if not records:
        return "unknown"
    first = records[0]
    if isinstance(first, dict) and "cf" in first:
        return "cloudfront"
    return _RECORD_SOURCES.get(record_source(first) or "", "unknown")


def _detect_http(event: dict[str, Any], context: dict[str, Any]) -> str | None:
    if isinstance(context.get("elb"), dict):
        return "alb"
    if "connectionId" in context and "eventType" in context:
        return "websocket"
    if event.get("version") == "2.0":
        if "serviceNetworkArn" in context:
            return "vpc-lattice"
        if isinstance(context.get("http"), dict):
            domain = context.get("domainName")
            if isinstance(domain, str) and ".lambda-url." in domain:
                return "function-url"
            return "apigw-v2"
    if "httpMethod" in event:
        return "apigw-v1"
    return None


def _is_cloudevent(value: Any) -> bool:
    return isinstance(value, dict) and all(
        key in value for key in ("specversion", "id", "source", "type")
    )


def detect(event: Any) -> str:
    """The kind of `event`, e.g. 's3', 'apigw-v2', 'eventbridge', or 'unknown'."""
    if isinstance(event, list):
        if event and all(_is_cloudevent(item) for item in event):
            return "cloudevent-batch"
        if event and all(isinstance(i, dict) and "arguments" in i for i in event):
            return "appsync-batch"
        return "unknown"
    if not isinstance(event, dict):
        return "unknown"
    if _is_cloudevent(event):
        return "cloudevent"
    records = event.get("Records")
    if isinstance(records, list):
        return _detect_records(records)
    # Authorizer requests also carry httpMethod/requestContext: check them first.
    if "methodArn" in event or ("routeArn" in event and event.get("type") == "REQUEST"):
        return "apigw-authorizer"
    context = event.get("requestContext")
    if isinstance(context, dict):
        http = _detect_http(event, context)
        if http:
            return http
    if "detail-type" in event and "source" in event:
        return "eventbridge"
    awslogs = event.get("awslogs")
    if isinstance(awslogs, dict) and "data" in awslogs:
        return "cloudwatch-logs"
    return _detect_other(event)


def _detect_other(event: dict[str, Any]) -> str:
    """Sources the reference recognises but has no CloudEvents mapping for."""
    keys = event.keys()
    source = event.get("eventSource")
    if source in ("aws:kafka", "SelfManagedKafka", "aws:SelfManagedKafka"):
        return "kafka"
    if source in ("aws:amq", "aws:rmq"):
        return "mq"
    if "triggerSource" in keys and "userPoolId" in keys:
        return "cognito-userpool"
    if event.get("eventType") == "SyncTrigger" and "identityPoolId" in keys:
        return "cognito-sync"
    if {"invocationId", "deliveryStreamArn", "records"} <= keys:
        return "firehose"
    if {"RequestType", "ResponseURL", "StackId"} <= keys:
        return "cloudformation"
    if "arguments" in keys and ("info" in keys or "fieldName" in keys):
        return "appsync"
    if {"SecretId", "ClientRequestToken", "Step"} <= keys:
        return "secretsmanager"
    if {"invocationSchemaVersion", "tasks", "job"} <= keys:
        return "s3-batch"
    if "CodePipeline.job" in keys:
        return "codepipeline"
    if {"configRuleName", "invokingEvent"} <= keys:
        return "config"
    return "unknown"
