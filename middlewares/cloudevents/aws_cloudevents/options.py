"""Middleware configuration, read from environment variables (see README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

_CHOICES = {
    "CLOUDEVENTS_UNKNOWN": ("passthrough", "wrap"),
    "CLOUDEVENTS_DATA": ("record", "payload"),
    "CLOUDEVENTS_EVENTBRIDGE_TYPE": ("detail-type", "slug"),
}


class OptionsError(ValueError):
    pass


class Options(NamedTuple):
    unknown: str = "passthrough"  # passthrough | wrap
    data: str = "record"  # SQS/SNS data: the whole record, or the message payload
    eventbridge_type: str = "detail-type"  # detail-type | slug

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Options:
        values = {}
        for name, choices in _CHOICES.items():
            value = env.get(name, "").strip().lower() or choices[0]
            if value not in choices:
                raise OptionsError(f"{name}={env[name]!r} is invalid: use one of {', '.join(choices)}")
            values[name] = value
        return cls(
            unknown=values["CLOUDEVENTS_UNKNOWN"],
            data=values["CLOUDEVENTS_DATA"],
            eventbridge_type=values["CLOUDEVENTS_EVENTBRIDGE_TYPE"],
        )
