"""The identity link store (memory fake and SQLite) and the rules for accounts made on first sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.memory import FastPasswordHasher, InMemoryAccountRepository, ManualClock
from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository
from imagerepo.adapters.sqlite import SqliteDatabase, SqliteIdentityLinkRepository
from imagerepo.domain.accounts import username_problems
from imagerepo.domain.identity import ExternalSignIn, IdentityLink, username_base, username_candidates
from imagerepo.entrypoints.container import ConfigError, Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def links(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryIdentityLinkRepository()
        return
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    db.open()
    yield SqliteIdentityLinkRepository(db)
    db.close()


def test_links_are_unique_by_issuer_and_subject(links: Any) -> None:
    first = links.add(IdentityLink("https://idp", "sub-1", "acc-1", T0, "a@x"))
    assert first.account_id == "acc-1"
    # A racing second first-sign-in gets the earlier link back, not a second account.
    again = links.add(IdentityLink("https://idp", "sub-1", "acc-2", T0))
    assert again.account_id == "acc-1"
    assert links.get("https://idp", "sub-1") == first
    assert links.get("https://other", "sub-1") is None
    links.add(IdentityLink("https://other", "sub-1", "acc-1", T0.replace(year=2027)))
    assert [x.issuer for x in links.list_for("acc-1")] == ["https://idp", "https://other"]
    assert links.list_for("acc-2") == []


def test_the_link_table_survives_reopening(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    db.open()
    SqliteIdentityLinkRepository(db).add(IdentityLink("https://idp", "s", "a", T0))
    db.close()
    db2 = SqliteDatabase(tmp_path / "db.sqlite3")
    db2.open()
    assert SqliteIdentityLinkRepository(db2).get("https://idp", "s") is not None
    assert 10 in db2.schema_versions()
    db2.close()


def test_first_sign_in_creates_an_account_and_later_ones_reuse_it() -> None:
    accounts = InMemoryAccountRepository()
    svc = ExternalSignIn(accounts, InMemoryIdentityLinkRepository(), FastPasswordHasher(), ManualClock())
    a, created = svc.account_for("https://idp", "42", {"preferred_username": "Jane Doe"})
    assert created
    assert a.username == "Jane-Doe"
    b, created = svc.account_for("https://idp", "42", {"preferred_username": "renamed"})
    assert not created
    assert b.id == a.id
    # Same name, another person: a unique name is chosen, never a takeover by email or name.
    c, created = svc.account_for("https://idp", "43", {"preferred_username": "Jane Doe", "email": "jane@x"})
    assert created
    assert c.id != a.id
    assert c.username == "Jane-Doe-2"


@given(st.dictionaries(st.sampled_from(["preferred_username", "nickname", "email", "name", "given_name"]),
                       st.text(max_size=60)))
def test_derived_usernames_always_follow_the_rules(claims: dict[str, str]) -> None:
    base = username_base(claims)
    assert username_problems(base) == []
    cands = username_candidates(base)
    assert cands
    assert all(username_problems(c) == [] for c in cands)
    assert len(set(cands)) == len(cands)


def test_providers_are_read_from_the_environment() -> None:
    s = Settings.from_env({
        "IMAGEREPO_OIDC_CORP_SSO_ISSUER": "https://sso.example.com/",
        "IMAGEREPO_OIDC_CORP_SSO_CLIENT_ID": "imagerepo",
        "IMAGEREPO_OIDC_CORP_SSO_CLIENT_SECRET": "s3cret",
        "IMAGEREPO_OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
        "IMAGEREPO_OIDC_GOOGLE_CLIENT_ID": "g",
    })
    assert [(p.name, p.issuer, p.client_secret) for p in s.oidc_providers] == [
        ("corp_sso", "https://sso.example.com", "s3cret"), ("google", "https://accounts.google.com", "")]
    assert "s3cret" not in repr(s)
    with pytest.raises(ConfigError, match="CLIENT_ID"):
        Settings.from_env({"IMAGEREPO_OIDC_X_ISSUER": "https://x"})
