"""Migration 0150: images stored before plain-date ranges compared with the photo's own day get
their local keys from the taken_at already stored, so an upgraded database answers them right."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from imagerepo.adapters.sql.rows import SearchIndex
from imagerepo.domain.photos import Camera, PhotoInfo
from imagerepo.domain.queries import build_query
from tests.contract.conftest import Backend
from tests.contract.test_image_repository import PARIS, ids, image, stored


def zone(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)],
                         indirect=True)
def test_an_upgraded_database_finds_photos_by_their_own_day(backend: Backend) -> None:
    repo = backend.images()
    tokyo = stored(repo, image(photo=PhotoInfo(datetime(2023, 1, 1, 5, tzinfo=zone(9)), location=PARIS)))
    new_york = stored(repo, image(photo=PhotoInfo(datetime(2022, 12, 31, 23, 30, tzinfo=zone(-5)))))
    naive = stored(repo, image(photo=PhotoInfo(datetime(2023, 1, 1, 0, 0, 0, 250))))
    # Microseconds, before 1970, an offset of minutes: the backfill reads every form isoformat writes.
    moon = stored(repo, image(photo=PhotoInfo(datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=zone(-4)))))
    india = stored(repo, image(photo=PhotoInfo(datetime(2023, 1, 1, 0, 15, tzinfo=zone(5.5)))))
    stored(repo, image(photo=PhotoInfo(camera=Camera("Canon", None, None))))  # read, no date
    stored(repo, image())  # never read
    dated = [tokyo, new_york, naive, moon, india]
    with backend.db.transaction() if backend.name == "sqlite" else backend.db.connection() as conn:
        # Back to the schema before 0150, as if upgrading now.
        conn.execute("ALTER TABLE images DROP COLUMN taken_local_key")
        conn.execute("DELETE FROM schema_version WHERE version = 150")
    assert 150 in backend.db.migrate()
    with backend.db.transaction() if backend.name == "sqlite" else backend.db.connection() as conn:
        rows = conn.execute("SELECT id, taken_local_key FROM images").fetchall()
    keys: dict[str, Any] = {r["id"]: r["taken_local_key"] for r in rows}
    assert {i.id: keys.pop(i.id) for i in dated} == {i.id: SearchIndex.of(i).taken_local_key for i in dated}
    assert list(keys.values()) == [None, None]
    found = set(ids(repo.search(build_query("alice", limit=100, taken_after="2023-01-01"))))
    assert found == {tokyo.id, naive.id, india.id}
    found = set(ids(repo.search(build_query("alice", limit=100, taken_before="2023-01-01"))))
    assert found == {new_york.id, moon.id}
