"""The internal response → exactly the response shape each source expects."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from .body import encode
from .response import Response


def _body(response: Response) -> tuple[str, bool]:
    if isinstance(response.body, bytes):
        return encode(response.body), True
    return response.body, False


def apigw_v1(response: Response) -> tuple[dict[str, Any], list[str]]:
    multi = {name: list(values) for name, values in response.header_items()}
    if response.cookies:
        multi["Set-Cookie"] = list(response.cookies)
    body, is_base64 = _body(response)
    return {
        "statusCode": response.status,
        # The single-value map keeps the last value, as API Gateway does; the
        # multi-value map wins for names in both, so nothing is lost.
        "headers": {name: values[-1] for name, values in multi.items() if values},
        "multiValueHeaders": multi,
        "body": body,
        "isBase64Encoded": is_base64,
    }, []


def apigw_v2(response: Response) -> tuple[dict[str, Any], list[str]]:
    body, is_base64 = _body(response)
    return {
        "statusCode": response.status,
        # Payload 2.0 has no multi-value map: repeats are comma-joined, cookies separate.
        "headers": {name: ", ".join(values) for name, values in response.header_items()},
        "cookies": list(response.cookies),
        "body": body,
        "isBase64Encoded": is_base64,
    }, []


def status_description(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def alb(response: Response, multi_value: bool) -> tuple[dict[str, Any], list[str]]:
    body, is_base64 = _body(response)
    shaped: dict[str, Any] = {
        "statusCode": response.status,
        "statusDescription": response.description or status_description(response.status),
    }
    warnings: list[str] = []
    if multi_value:
        multi = {name: list(values) for name, values in response.header_items()}
        if response.cookies:
            multi["Set-Cookie"] = list(response.cookies)
        shaped["multiValueHeaders"] = multi
    else:
        # Single-value mode can carry one value per name: join lists, but cookies
        # cannot be joined, so only the last Set-Cookie survives (and we say so).
        headers = {name: ", ".join(values) for name, values in response.header_items()}
        if response.cookies:
            headers["Set-Cookie"] = response.cookies[-1]
            if len(response.cookies) > 1:
                warnings.append(
                    f"ALB target group has multi-value headers off: sent only the last of "
                    f"{len(response.cookies)} Set-Cookie headers"
                )
        shaped["headers"] = headers
    shaped["body"] = body
    shaped["isBase64Encoded"] = is_base64
    return shaped, warnings


def shape(response: Response, source: str, alb_multi_value: bool = False) -> tuple[dict[str, Any], list[str]]:
    if source == "apigw-v1":
        return apigw_v1(response)
    if source in ("apigw-v2", "function-url"):
        return apigw_v2(response)
    if source == "alb":
        return alb(response, alb_multi_value)
    raise ValueError(f"unknown HTTP source {source!r}")
