"""Python handlers for the same behavioural checks as the Node and shell ones."""


def ok(event, context):
    return {"got": event, "requestId": context.aws_request_id, "arn": context.invoked_function_arn,
            "remainingMs": context.get_remaining_time_in_millis()}


def fail(event, context):
    raise ValueError("python handler failed on purpose")
