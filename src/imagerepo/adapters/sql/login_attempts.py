"""What the SQL login throttles store for a counter name, the same for every dialect."""

from __future__ import annotations

import hashlib


def counter_id(key: str) -> str:
    """The stored key: a digest, so no username or address sits in the table in clear."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
