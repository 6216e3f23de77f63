"""Reading AWS Lambda events, shared by the built-in middlewares (cloudevents, http, validate).

* `detect`: which AWS source produced an event, from its shape alone; `http_source`: which
  HTTP source sent an HTTP request event (None for every other event).
* `Node`: typed reads from a parsed event that remember their path, so errors name the field.
* `FieldError` and `InvalidEventError`: the errors that name it.

The middlewares import it as they import the SDK beside it (their executables put this
folder on sys.path). Stdlib only and cheap to import: in exec mode a middleware starts
once per event.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

HttpSource = Literal["apigw-v1", "apigw-v2", "function-url", "alb"]
HTTP_SOURCES: tuple[HttpSource, ...] = get_args(HttpSource)


# ------------------------------------------------------------------------------ errors


class FieldError(ValueError):
    """A JSON document that breaks the shape it must have: `field` names the place ('' for
    the document itself), `problem` says what is wrong there."""

    def __init__(self, what: str, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        where = f"field '{field}' " if field else ""
        super().__init__(f"invalid {what}: {where}{problem}")


class InvalidEventError(FieldError):
    """An event that looks like a known AWS source (`kind`) but breaks that source's shape."""

    def __init__(self, kind: str, field: str, problem: str) -> None:
        self.kind = kind
        super().__init__(f"{kind} event", field, problem)


# ------------------------------------------------------------------------ field reads


def type_name(value: Any) -> str:
    """A JSON value's type, as error messages name it ('an object', 'null', …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


class Node:
    """A JSON object at `path` inside an event of kind `kind`. Reads that find the wrong
    thing raise `error` (a subclass may name its own) naming the field by its path."""

    __slots__ = ("kind", "path", "value")
    error: type[InvalidEventError] = InvalidEventError

    def __init__(self, value: dict[str, Any], path: str, kind: str) -> None:
        self.value = value
        self.path = path
        self.kind = kind

    @classmethod
    def root(cls, value: Any, kind: str) -> Node:
        if not isinstance(value, dict):
            raise cls.error(kind, "", f"must be a JSON object, got {type_name(value)}")
        return cls(value, "", kind)

    def where(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, problem: str) -> InvalidEventError:
        return self.error(self.kind, self.where(key), problem)

    def invalid(self, problem: str) -> InvalidEventError:
        """An error about this node itself."""
        return self.error(self.kind, self.path, problem)

    def has(self, key: str) -> bool:
        return self.value.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.value.get(key)

    def required(self, key: str) -> Any:
        """The value at `key`, which must be there and not null."""
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def obj(self, key: str) -> Node:
        value = self.required(key)
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, got {type_name(value)}")
        return type(self)(value, self.where(key), self.kind)

    def opt_obj(self, key: str) -> Node | None:
        return self.obj(key) if self.has(key) else None

    def opt_map(self, key: str) -> dict[str, Any]:
        """An optional object as a plain dict; AWS sends null for an empty map."""
        value = self.value.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object or null, got {type_name(value)}")
        return value

    def text(self, key: str) -> str:
        """A required, non-empty string (CloudEvents forbids empty id/source/type)."""
        value = self.required(key)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type_name(value)}")
        if not value:
            raise self.fail(key, "must not be empty")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string when present and non-empty; None when absent, null or empty."""
        value = self.value.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type_name(value)}")
        return value

    def number(self, key: str) -> int | float | str:
        """A number, or a string of digits (SQS sends epoch times as strings)."""
        value = self.required(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.fail(key, f"must be a number, got {type_name(value)}")
        return value

    def opt_number(self, key: str) -> int | float | str | None:
        return self.number(key) if self.has(key) else None

    def opt_bool(self, key: str) -> bool:
        """An optional boolean; absent or null is False."""
        value = self.value.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(key, f"must be a boolean, got {value!r}")
        return value

    def array(self, key: str) -> list[Any]:
        value = self.required(key)
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array, got {type_name(value)}")
        return value

    def items(self, key: str) -> list[Node]:
        """The objects of a required array, each as a Node."""
        out: list[Node] = []
        path = self.where(key)
        for index, item in enumerate(self.array(key)):
            if not isinstance(item, dict):
                raise self.error(self.kind, f"{path}[{index}]", f"must be an object, got {type_name(item)}")
            out.append(type(self)(item, f"{path}[{index}]", self.kind))
        return out


# -------------------------------------------------------------------------- detection
#
# The checks follow the reference's detection table, first match wins. They are loose on
# purpose: an event that *claims* a known shape is then validated strictly by whoever reads
# it, so a broken API Gateway event gets an error naming the missing field instead of
# slipping through as "unknown".

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
    """An event with a `requestContext`: one of HTTP_SOURCES, 'websocket', 'vpc-lattice',
    or None for none of them."""
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
    # ActiveMQ deliveries say "aws:mq" (the Lambda docs' sample); "aws:amq" is seen too.
    if source in ("aws:mq", "aws:amq", "aws:rmq"):
        return "mq"
    if {"raw_path", "method", "is_base64_encoded"} <= keys:
        return "vpc-lattice"  # payload v1: snake_case keys, no requestContext
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


def http_source(event: Any) -> HttpSource | None:
    """The HTTP source of an HTTP *request* event: API Gateway REST (v1) or HTTP API (v2),
    a Function URL or an ALB. None for every other event, including those that look like
    one but are not requests to answer: WebSocket messages, API Gateway authorizer
    requests, VPC Lattice."""
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return None
    if "methodArn" in event or "routeArn" in event:
        return None
    if event.get("version") == "2.0" and not isinstance(context.get("http"), dict):
        return None  # VPC Lattice v2 has its own shape; not one of ours
    # The same rules as `detect` (WebSocket: connectionId *and* eventType), so that http,
    # validate and cloudevents agree on which events are HTTP requests.
    kind = _detect_http(event, context)
    return kind if kind in HTTP_SOURCES else None
