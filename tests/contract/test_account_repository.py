"""AccountRepository contract: every adapter keeps the same promises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagerepo.domain.accounts import Account
from imagerepo.domain.errors import UsernameTaken
from imagerepo.ports.account_repository import AccountRepository

T0 = datetime(2026, 3, 1, 12, 0, 0, 123457, tzinfo=UTC)


def account(username: str, at: datetime = T0, **kw: Any) -> Account:
    return Account(
        id=str(uuid.uuid4()), username=username, password_hash="h$" + username, created_at=at, **kw
    )


def test_fits_the_port(account_repo: Any) -> None:
    assert isinstance(account_repo, AccountRepository)


def test_added_account_reads_back_equal(account_repo: Any) -> None:
    a = account("Alice", quota_limit=7)
    account_repo.add(a)
    assert account_repo.get(a.id) == a
    assert account_repo.get(a.id).created_at.tzinfo is not None
    assert account_repo.get("missing") is None


def test_username_is_unique_without_regard_to_case(account_repo: Any) -> None:
    account_repo.add(account("Alice"))
    with pytest.raises(UsernameTaken):
        account_repo.add(account("aLICE"))
    assert [a.username for a in account_repo.list()] == ["Alice"]


def test_lookup_by_username_ignores_case(account_repo: Any) -> None:
    a = account("Bob.Smith")
    account_repo.add(a)
    assert account_repo.get_by_username("bob.smith") == a
    assert account_repo.get_by_username("BOB.SMITH") == a
    assert account_repo.get_by_username("bob") is None


def test_password_hash_and_quota_can_change(account_repo: Any) -> None:
    a = account("carol")
    account_repo.add(a)
    account_repo.set_password_hash(a.id, "new-hash")
    account_repo.set_quota_limit(a.id, 100)
    got = account_repo.get(a.id)
    assert (got.password_hash, got.quota_limit) == ("new-hash", 100)
    account_repo.set_quota_limit(a.id, None)
    assert account_repo.get(a.id).quota_limit is None


def test_a_deleted_account_is_gone_and_its_name_free(account_repo: Any) -> None:
    alice, bob = account("Alice"), account("bob")
    account_repo.add(alice)
    account_repo.add(bob)
    assert account_repo.delete(alice.id) is True
    assert account_repo.get(alice.id) is None
    assert account_repo.get_by_username("alice") is None
    assert [a.username for a in account_repo.list()] == ["bob"]
    assert account_repo.delete(alice.id) is False
    again = account("ALICE")
    account_repo.add(again)  # the name may be taken again
    assert account_repo.get_by_username("alice") == again


def test_list_is_oldest_first(account_repo: Any) -> None:
    made = [account(f"user{i}", T0 - timedelta(minutes=i)) for i in range(4)]
    for a in made:
        account_repo.add(a)
    assert [a.username for a in account_repo.list()] == ["user3", "user2", "user1", "user0"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.from_regex(r"[A-Za-z0-9_.\-]{3,32}", fullmatch=True))
def test_any_valid_name_is_found_in_any_case(account_repo: Any, name: str) -> None:
    # Each example adds one more account; names differing only in case collide, by the rule.
    a = account(name)
    try:
        account_repo.add(a)
    except UsernameTaken:
        assert account_repo.get_by_username(name) is not None
        return
    assert account_repo.get_by_username(name.swapcase()) == a
