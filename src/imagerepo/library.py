"""Use an imagerepo data directory from Python, without HTTP: the same services as the API.

    from imagerepo.library import Repository

    with Repository.open("var") as repo:
        alice = repo.sign_up("alice", "correct horse")
        image = repo.upload(alice, "photos/beach.jpg")
        repo.run_pending_analyses()
        for found in repo.search(alice, q="beach"):
            print(found.filename, found.analysis.description)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from dependency_injector import providers

from imagerepo.domain.accounts import Account, QuotaUse
from imagerepo.domain.errors import NotFound
from imagerepo.domain.images import Image
from imagerepo.domain.queries import build_query
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.settings import Settings

__all__ = ["Account", "Image", "Repository"]


class Repository:
    """A handle on one repository (its data dir, or the database and store its settings name).

    Errors are the domain's (``imagerepo.domain.errors``): QuotaExceeded, DuplicateImage,
    UnsupportedMediaType, InvalidImage, NotFound, UsernameTaken, InvalidCredentialsFormat, …
    """

    def __init__(self, container: Container) -> None:
        self._c = container
        self._open = False

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, *, settings: Settings | None = None,
             **changes: Any) -> Repository:
        """Open the repository in ``data_dir`` (created when missing). ``settings`` (default: the
        IMAGEREPO_* environment) and keyword ``changes`` such as ``upload_quota=100`` adjust it.
        Analyses run only when you call :meth:`run_pending_analyses`."""
        s = settings or Settings.from_env()
        if data_dir is not None:
            changes["data_dir"] = Path(data_dir)
        s = attrs.evolve(s, **{"workers": 0, **changes})
        container = Container()
        container.settings.override(providers.Object(s))
        return cls(container).start()

    def start(self) -> Repository:
        self._c.init_resources()
        self._open = True
        return self

    def close(self) -> None:
        if self._open:
            self._c.shutdown_resources()
            self._open = False

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- accounts

    def sign_up(self, username: str, password: str) -> Account:
        return self._c.account_service().sign_up(username, password)

    def account(self, username: str) -> Account:
        """The account of that name (any letter case); NotFound otherwise."""
        return self._c.account_service().get_by_username(username)

    def accounts(self) -> list[Account]:
        return list(self._c.account_service().list_accounts())

    def quota(self, account: Account) -> QuotaUse:
        return self._c.image_service().quota(self._fresh(account))

    # ---- images

    def upload(self, account: Account, source: str | os.PathLike[str] | bytes, filename: str | None = None) -> Image:
        """Store a file (a path) or bytes (give ``filename`` too) as a new image, checked exactly
        as an HTTP upload is; its analysis is pending until :meth:`run_pending_analyses`."""
        images = self._c.image_service()
        if isinstance(source, bytes):
            tmp_dir = self._c.settings().data_dir / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(source)
                return images.upload(self._fresh(account), filename or "upload", Path(name))
            finally:
                Path(name).unlink(missing_ok=True)
        path = Path(source)
        return images.upload(self._fresh(account), filename or path.name, path)

    def get(self, account: Account, image_id: str) -> Image:
        return self._c.image_service().get(account, image_id)

    def read(self, account: Account, image_id: str) -> bytes:
        """The original bytes of one of the account's images."""
        return self._c.image_service().read_original(account, image_id)

    def search(self, account: Account, q: str | None = None, *, tags: tuple[str, ...] | list[str] = (),
               color: str | None = None, sort: str | None = None, limit: int | None = None,
               place: str | None = None, taken_after: str | None = None,
               taken_before: str | None = None) -> list[Image]:
        """Like GET /api/v1/images (same rules and order); every match when ``limit`` is None."""
        query = build_query(account.id, q=q, tags=tags, color=color, sort=sort, limit=min(limit or 100, 100),
                            place=place, taken_after=taken_after, taken_before=taken_before)
        found: list[Image] = []
        while True:
            page = self._c.image_service().search(query)
            found.extend(page.items)
            if page.next_cursor is None or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found
            query = attrs.evolve(query, cursor=page.next_cursor)

    def delete(self, account: Account, image_id: str) -> None:
        self._c.image_service().delete(account, image_id)

    def reanalyze(self, account: Account, image_id: str) -> Image:
        return self._c.image_service().reanalyze(account, image_id)

    def run_pending_analyses(self, max_jobs: int = 10_000) -> int:
        """Analyze due images now (local analysis in a child process, as in the server, unless
        ``analysis_processes=0``); returns how many were processed."""
        return self._c.analysis_service().drain(max_jobs).total()

    def _fresh(self, account: Account) -> Account:
        """The stored account (its quota may have changed since the caller fetched it)."""
        try:
            return self._c.account_service().get(account.id)
        except NotFound:
            return account
