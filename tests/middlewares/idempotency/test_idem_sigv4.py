"""Our SigV4 signature equals botocore's (AWS's own signer) for the same DynamoDB request:
moto does not check signatures, so this is what proves real DynamoDB would accept ours."""

from __future__ import annotations

import datetime
import pytest
from aws_idempotency.sigv4 import Credentials, sign
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

BODY = b'{"TableName":"idempotency","Key":{"id":{"S":"orders#abc"}},"ConsistentRead":true}'
HEADERS = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.GetItem"}


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////token"])
@pytest.mark.parametrize(("host", "region"), [
    ("dynamodb.eu-west-1.amazonaws.com", "eu-west-1"),
    ("127.0.0.1:8000", "us-east-1"),  # an endpoint override keeps its port in the Host header
])
def test_the_signature_is_botocores(token: str | None, host: str, region: str) -> None:
    request = AWSRequest(method="POST", url=f"https://{host}/", data=BODY, headers=dict(HEADERS))
    SigV4Auth(BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
              "dynamodb", region).add_auth(request)
    # Signed at the same second as botocore signed.
    when = datetime.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")

    ours = sign(HEADERS, BODY, host=host, region=region, service="dynamodb",
                credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
                now=when.replace(tzinfo=datetime.timezone.utc).timestamp())

    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_credentials_never_show_the_secret() -> None:
    assert "wJalr" not in repr(Credentials("AKID", "wJalrXUtnFEMI", "token"))
