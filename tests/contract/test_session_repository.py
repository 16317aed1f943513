"""SessionRepository contract: every adapter keeps the same promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from imagerepo.domain.accounts import Session
from imagerepo.ports.session_repository import SessionRepository

T0 = datetime(2026, 3, 1, 12, 0, 0, 999999, tzinfo=UTC)


def session(
    token_hash: str,
    account_id: str = "acct-1",
    *,
    at: datetime = T0,
    ttl: float = 3600,
    kind: str = "session",
    name: str = "",
) -> Session:
    return Session(token_hash, account_id, at, at + timedelta(seconds=ttl), kind, name)


def test_fits_the_port(session_repo: Any) -> None:
    assert isinstance(session_repo, SessionRepository)


def test_added_session_reads_back_equal_even_when_expired(session_repo: Any) -> None:
    live, dead = session("h1"), session("h2", ttl=-5, kind="token", name="laptop")
    session_repo.add(live)
    session_repo.add(dead)
    assert session_repo.get("h1") == live
    assert session_repo.get("h2") == dead
    assert session_repo.get("h3") is None


def test_delete_revokes_and_unknown_is_fine(session_repo: Any) -> None:
    session_repo.add(session("h1"))
    session_repo.delete("h1")
    session_repo.delete("never-existed")
    assert session_repo.get("h1") is None


def test_list_for_filters_by_account_and_kind_oldest_first(session_repo: Any) -> None:
    session_repo.add(session("b", at=T0 + timedelta(seconds=2), kind="token"))
    session_repo.add(session("a", at=T0 + timedelta(seconds=1), kind="token"))
    session_repo.add(session("c", kind="session"))
    session_repo.add(session("d", account_id="acct-2", kind="token"))
    assert [s.token_hash for s in session_repo.list_for("acct-1", "token")] == ["a", "b"]
    assert [s.token_hash for s in session_repo.list_for("acct-1", "session")] == ["c"]
    assert session_repo.list_for("acct-3", "token") == []


def test_delete_expired_removes_only_expired(session_repo: Any) -> None:
    session_repo.add(session("old", ttl=10))
    session_repo.add(session("edge", ttl=20))
    session_repo.add(session("new", ttl=30))
    now = T0 + timedelta(seconds=20)
    assert session_repo.delete_expired(now) == 2  # expired at or before now: invalid at now
    assert session_repo.get("new") is not None
    assert session_repo.get("old") is None
    assert session_repo.get("edge") is None
    assert session_repo.delete_expired(now) == 0


def test_delete_for_account_revokes_every_session_and_token_of_that_account_only(session_repo: Any) -> None:
    session_repo.add(session("s1"))
    session_repo.add(session("s2", ttl=-5))  # expired rows of the account go too
    session_repo.add(session("t1", kind="api_token", name="backup"))
    session_repo.add(session("other", account_id="acct-2"))
    session_repo.add(session("other-token", account_id="acct-2", kind="api_token"))
    assert session_repo.delete_for_account("acct-1") == 3
    for gone in ("s1", "s2", "t1"):
        assert session_repo.get(gone) is None
    assert session_repo.get("other") is not None
    assert session_repo.get("other-token") is not None
    assert session_repo.delete_for_account("acct-1") == 0
    assert session_repo.delete_for_account("no-such-account") == 0
