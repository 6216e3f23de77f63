"""Example function for the deploy templates: returns what it was called with."""


def handler(event, context):
    return {"message": "Hello from behind the openruntime pipeline", "event": event,
            "requestId": context.aws_request_id}
