"""AWS Lambda limits that apply to layers (reference section 8)."""

from __future__ import annotations

MAX_LAYERS = 5
# Lambda's quotas page gives these in bytes: 250 MB = 262,144,000 and 50 MB = 52,428,800.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
MAX_ZIPPED_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024


def human_size(n: int) -> str:
    """Short human-readable size (MiB-based, like Lambda's quotas)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"
