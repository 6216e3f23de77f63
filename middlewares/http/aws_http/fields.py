"""Typed reads from an event object that remember their path, so errors name the field:
the shared aws_events.Node, raising InvalidRequestError, with http's own string rules."""

from __future__ import annotations

import aws_events

from .errors import InvalidRequestError


class Node(aws_events.Node):
    """A JSON object at `path` inside an event from the HTTP source `kind`."""

    __slots__ = ()
    error = InvalidRequestError

    def text(self, key: str) -> str:
        value = self.required(key)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def opt_text(self, key: str) -> str | None:
        """As aws_events.Node.opt_text, but an empty string stays ''."""
        return "" if self.raw(key) == "" else super().opt_text(key)
