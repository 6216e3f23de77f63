"""Headers the middleware adds to every response it shapes or makes — CORS and security
headers — without ever replacing one the handler set (`Vary` is merged instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import cors
from .response import Response

if TYPE_CHECKING:
    from .settings import Settings


def add_missing(response: Response, name: str, value: str) -> None:
    if not response.has_header(name):
        response.add_header(name, [value])


def add_vary(response: Response, value: str) -> None:
    """Add the names in `value` to `Vary`, keeping the handler's, as one value (a single-
    value map would otherwise keep only the last)."""
    if not response.has_header("vary"):
        response.add_header("Vary", [value])
        return
    name, values = response.headers["vary"]
    present = {token.strip().lower() for v in values for token in v.split(",")}
    if "*" in present:
        return  # varies on everything already
    new = [token.strip() for token in value.split(",") if token.strip().lower() not in present]
    if new:
        response.headers["vary"] = (name, [", ".join([*values, *new])])


def _apply(response: Response, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if name == "Vary":
            add_vary(response, value)
        else:
            add_missing(response, name, value)


def decorate(response: Response, settings: Settings, origin: str | None) -> Response:
    """CORS headers for a request from `origin` (when CORS is on), then security headers."""
    if settings.cors is not None:
        _apply(response, cors.response_headers(settings.cors, origin))
    _apply(response, list(settings.security_headers))
    return response


def preflight(settings: Settings, headers: dict[str, list[str]]) -> Response:
    """The `204` answer to a CORS preflight request (CORS must be on)."""
    assert settings.cors is not None
    response = Response(204, "")
    _apply(response, cors.preflight_headers(settings.cors, headers))
    _apply(response, list(settings.security_headers))
    return response
