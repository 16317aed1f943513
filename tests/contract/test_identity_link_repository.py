"""IdentityLinkRepository contract: the fake, SQLite and PostgreSQL link external identities alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from imagerepo.domain.identity import IdentityLink

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_links_are_unique_by_issuer_and_subject(identity_link_repo: Any) -> None:
    links = identity_link_repo
    first = links.add(IdentityLink("https://idp", "sub-1", "acc-1", T0, "a@x"))
    assert first.account_id == "acc-1"
    # A racing second first-sign-in gets the earlier link back, not a second account.
    again = links.add(IdentityLink("https://idp", "sub-1", "acc-2", T0))
    assert again.account_id == "acc-1"
    assert links.get("https://idp", "sub-1") == first
    assert links.get("https://other", "sub-1") is None
    assert links.get("https://idp", "sub-2") is None
    links.add(IdentityLink("https://other", "sub-1", "acc-1", T0.replace(year=2027)))
    assert [x.issuer for x in links.list_for("acc-1")] == ["https://idp", "https://other"]
    assert links.list_for("acc-2") == []


def test_a_link_reads_back_exactly_as_stored(identity_link_repo: Any) -> None:
    link = IdentityLink("https://idp.example/realms/ü", "sub' OR 1=1 --", "acc-1", T0 + timedelta(microseconds=7),
                        "jane@example.com")
    assert identity_link_repo.add(link) == link
    got = identity_link_repo.get(link.issuer, link.subject)
    assert got == link
    assert got.created_at.utcoffset() == timedelta(0)


def test_an_accounts_links_are_listed_oldest_first(identity_link_repo: Any) -> None:
    for n, subject in enumerate(["c", "a", "b"]):
        identity_link_repo.add(IdentityLink("https://idp", subject, "acc-1", T0 - timedelta(days=n)))
    identity_link_repo.add(IdentityLink("https://idp", "z", "acc-2", T0))
    assert [x.subject for x in identity_link_repo.list_for("acc-1")] == ["b", "a", "c"]


def test_deleting_an_accounts_links_keeps_everyone_elses(identity_link_repo: Any) -> None:
    for subject in ("a", "b"):
        identity_link_repo.add(IdentityLink("https://idp", subject, "acc-1", T0))
    identity_link_repo.add(IdentityLink("https://idp", "c", "acc-2", T0))
    assert identity_link_repo.delete_for("acc-1") == 2
    assert identity_link_repo.list_for("acc-1") == []
    assert identity_link_repo.get("https://idp", "a") is None
    assert [x.subject for x in identity_link_repo.list_for("acc-2")] == ["c"]
    assert identity_link_repo.delete_for("acc-1") == 0
    # The subject is free again: a later sign-in with it makes a new link.
    assert identity_link_repo.add(IdentityLink("https://idp", "a", "acc-3", T0)).account_id == "acc-3"


def test_racing_first_sign_ins_all_get_the_one_stored_link(identity_link_repo: Any) -> None:
    start = threading.Barrier(8)
    got: list[IdentityLink] = []

    def add(n: int) -> None:
        start.wait()
        got.append(identity_link_repo.add(IdentityLink("https://idp", "racer", f"acc-{n}", T0)))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8
    assert len({x.account_id for x in got}) == 1
    assert identity_link_repo.get("https://idp", "racer") == got[0]


def test_the_sqlite_link_table_survives_reopening(tmp_path: Path) -> None:
    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteIdentityLinkRepository

    db = SqliteDatabase(tmp_path / "db.sqlite3")
    db.open()
    SqliteIdentityLinkRepository(db).add(IdentityLink("https://idp", "s", "a", T0))
    db.close()
    db2 = SqliteDatabase(tmp_path / "db.sqlite3")
    db2.open()
    assert SqliteIdentityLinkRepository(db2).get("https://idp", "s") is not None
    assert 10 in db2.schema_versions()
    db2.close()
