"""In-memory fake of IdentityLinkRepository (tests and the memory container)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from imagerepo.domain.identity import IdentityLink


class InMemoryIdentityLinkRepository:
    def __init__(self) -> None:
        self._links: dict[tuple[str, str], IdentityLink] = {}
        self._lock = threading.Lock()

    def add(self, link: IdentityLink) -> IdentityLink:
        with self._lock:
            return self._links.setdefault((link.issuer, link.subject), link)

    def get(self, issuer: str, subject: str) -> IdentityLink | None:
        return self._links.get((issuer, subject))

    def list_for(self, account_id: str) -> Sequence[IdentityLink]:
        return sorted((x for x in self._links.values() if x.account_id == account_id), key=lambda x: x.created_at)

    def delete_for(self, account_id: str) -> int:
        with self._lock:
            gone = [k for k, x in self._links.items() if x.account_id == account_id]
            for k in gone:
                del self._links[k]
            return len(gone)
