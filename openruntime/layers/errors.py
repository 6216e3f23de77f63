"""The one exception type of the layers package."""

from __future__ import annotations


class LayerError(Exception):
    """A layer cannot be built, read or extracted; the message says which file and why."""
