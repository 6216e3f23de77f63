"""Paths and expectations for the cloudevents middleware tests (the AWS event samples
themselves: aws_fixtures, shared with the other middlewares' tests)."""

from __future__ import annotations

from pathlib import Path

from aws_fixtures import ALL_FIXTURES, FIXTURES, MALFORMED, load, raw, require_fixtures

__all__ = ["ALL_FIXTURES", "EXECUTABLE", "EXPECTED", "FIXTURES", "MALFORMED", "MIDDLEWARE_DIR",
           "REPO", "load", "raw"]

require_fixtures()

REPO = Path(__file__).resolve().parents[3]
MIDDLEWARE_DIR = REPO / "middlewares" / "cloudevents"
EXECUTABLE = MIDDLEWARE_DIR / "cloudevents"


# What every fixture must become: (detected kind, mode). A new fixture fails
# test_every_fixture_has_an_expectation until someone decides what it should be.
EXPECTED: dict[str, tuple[str, str]] = {
    "alb-request-base64-body.json": ("alb", "converted"),
    "alb-request-multivalue-headers.json": ("alb", "converted"),
    "alb-request-multivalue-query.json": ("alb", "converted"),
    "alb-request-single-value-headers.json": ("alb", "converted"),
    "alb-response.json": ("unknown", "passthrough"),
    "apigw-v1-proxy-request-base64-flag-nonbase64-body.json": ("apigw-v1", "converted"),
    "apigw-v1-proxy-request-captured-no-auth.json": ("apigw-v1", "converted"),
    "apigw-v1-proxy-request-console-test-null-headers.json": ("apigw-v1", "converted"),
    "apigw-v1-proxy-request-multivalue.json": ("apigw-v1", "converted"),
    "apigw-v1-proxy-request.json": ("apigw-v1", "converted"),
    "apigw-v1-proxy-response.json": ("unknown", "passthrough"),
    "apigw-v2-http-request-captured-post.json": ("apigw-v2", "converted"),
    "apigw-v2-http-request-iam.json": ("apigw-v2", "converted"),
    "apigw-v2-http-request-no-authorizer.json": ("apigw-v2", "converted"),
    "apigw-v2-http-request.json": ("apigw-v2", "converted"),
    "apigw-v2-http-response.json": ("unknown", "passthrough"),
    "appsync-batch-resolver.json": ("appsync-batch", "passthrough"),
    "appsync-resolver.json": ("appsync", "passthrough"),
    "cloudwatch-logs-account-policy-zlib.json": ("cloudwatch-logs", "converted"),
    "cloudwatch-logs.json": ("cloudwatch-logs", "converted"),
    "codepipeline-job.json": ("codepipeline", "passthrough"),
    "cognito-sync-trigger.json": ("cognito-sync", "passthrough"),
    "cognito-userpool-presignup.json": ("cognito-userpool", "passthrough"),
    "config-rule-periodic.json": ("config", "passthrough"),
    "dynamodb-stream-insert-modify.json": ("dynamodb", "converted"),
    "dynamodb-stream.json": ("dynamodb", "converted"),
    "eventbridge-codepipeline-execution-state-change.json": ("eventbridge", "converted"),
    "eventbridge-ec2-state-change.json": ("eventbridge", "converted"),
    "eventbridge-scheduled-event.json": ("eventbridge", "converted"),
    "firehose-response.json": ("unknown", "passthrough"),
    "firehose.json": ("firehose", "passthrough"),
    "function-url-request-browser-get.json": ("function-url", "converted"),
    "function-url-request-captured-base64-body.json": ("function-url", "converted"),
    "function-url-request-captured-cookies-text-body.json": ("function-url", "converted"),
    "function-url-request-iam.json": ("function-url", "converted"),
    "function-url-response.json": ("unknown", "passthrough"),
    "iot-button.json": ("unknown", "passthrough"),
    "iot-custom-authorizer-request.json": ("unknown", "passthrough"),
    "kafka-msk.json": ("kafka", "passthrough"),
    "kafka-self-managed.json": ("kafka", "passthrough"),
    "kinesis-cloudwatch-logs-payload.json": ("kinesis", "converted"),
    "kinesis.json": ("kinesis", "converted"),
    "s3-delete.json": ("s3", "converted"),
    "s3-eventbridge-object-created.json": ("eventbridge", "converted"),
    "s3-put-urlencoded-key.json": ("s3", "converted"),
    "s3-put.json": ("s3", "converted"),
    "ses-receipt.json": ("ses", "passthrough"),
    "sns.json": ("sns", "converted"),
    "sqs-batch-response.json": ("unknown", "passthrough"),
    "sqs-batch.json": ("sqs", "converted"),
    "sqs-fifo-sns-envelope.json": ("sqs", "converted"),
    "sqs-message-attributes.json": ("sqs", "converted"),
    "sqs-s3-notification-body.json": ("sqs", "converted"),
    "vpc-lattice-v2-request.json": ("vpc-lattice", "passthrough"),
}
