"""The rules for accounts made on first sign-in (the link store's contract: tests/contract)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.memory import (
    FastPasswordHasher,
    InMemoryAccountRepository,
    InMemoryLoginThrottle,
    InMemorySessionRepository,
    ManualClock,
)
from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository
from imagerepo.domain.accounts import username_problems
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.identity import username_base, username_candidates
from imagerepo.domain.identity_service import ExternalSignInService
from imagerepo.entrypoints.settings import ConfigError, Settings


def external_sign_in() -> tuple[ExternalSignInService, AccountService]:
    accounts, hasher, clock = InMemoryAccountRepository(), FastPasswordHasher(), ManualClock()
    sessions = AccountService(accounts, InMemorySessionRepository(), hasher, clock, InMemoryLoginThrottle(clock))
    return ExternalSignInService(accounts, InMemoryIdentityLinkRepository(), hasher, clock, sessions), sessions


def test_first_sign_in_creates_an_account_and_later_ones_reuse_it() -> None:
    svc, _ = external_sign_in()
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


def test_sign_in_issues_a_session_of_the_linked_account() -> None:
    svc, sessions = external_sign_in()
    first = svc.sign_in("https://idp", "42", {"email": "jane@example.com"})
    again = svc.sign_in("https://idp", "42", {"email": "someone-else@example.com"})
    assert (first.created, again.created) == (True, False)
    assert first.issued.token != again.issued.token
    account, session = sessions.authenticate(again.issued.token)
    assert account.id == first.issued.account.id
    assert account.username == "jane"
    assert session.kind == "session"


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
