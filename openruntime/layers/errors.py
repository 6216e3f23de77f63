"""The one exception type of the layers package (defined with the others in openruntime.errors)."""

from __future__ import annotations

from openruntime.errors import LayerError

__all__ = ["LayerError"]
