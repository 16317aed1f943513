"""SignedBlobServer port: a blob store whose temporary URLs point at this app, which serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class SignedBlobServer(Protocol):
    """The embedded file store hands out URLs to the app's own blob route and checks them there;
    a store whose URLs are served elsewhere (S3 answers its presigned URLs itself) has none."""

    def resolve(self, key: str, exp: str, sig: str, live: Callable[[str], bool]) -> tuple[bytes, str]:
        """The plaintext and content type behind a URL's ``key``, ``exp`` and ``sig``.

        Raises BlobMissing, alike for every reason a client must not learn apart: a bad
        signature, an expired link, a key ``live`` calls dead (asked only once the signature
        holds), a missing or tampered blob."""
        ...
