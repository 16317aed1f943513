"""LoginThrottle contract: the fake, SQLite and PostgreSQL slow guessing alike, and never lock out for good."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerepo.adapters.memory import InMemoryLoginThrottle, ManualClock
from imagerepo.domain.throttle import ThrottlePolicy, ThrottleRules
from tests.contract.conftest import BACKENDS, Backend

RULES = ThrottleRules.scaled()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKENDS)
def make(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Callable[[], Any]]:
    """Builds throttles that share one store (for the SQL ones: one database, as two processes would)."""
    backend = Backend(request.param, request, tmp_path)
    shared = InMemoryLoginThrottle(clock)
    closers: list[Callable[[], None]] = []

    def build() -> Any:
        if backend.name == "memory":
            return shared
        if backend.name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteDatabase, SqliteLoginThrottle

            db = SqliteDatabase(tmp_path / "imagerepo.sqlite3")  # a second handle, as another process has
            db.open()
            closers.append(db.close)
            return SqliteLoginThrottle(db, clock)
        from imagerepo.adapters.postgres import PostgresLoginThrottle

        return PostgresLoginThrottle(backend.db, clock)

    if backend.name == "postgres":
        with backend.db.connection() as conn:
            conn.execute("TRUNCATE login_attempts")
    yield build
    for close in closers:
        close()
    backend.close()


def keys(user: str, addr: str = "198.51.100.7") -> list[str]:
    return [f"user:{user}", f"addr:{addr}"]


def fail(throttle: Any, k: list[str], times: int) -> None:
    for _ in range(times):
        throttle.failed(k)


def test_free_attempts_then_a_doubling_wait_with_a_ceiling(make: Callable[[], Any], clock: ManualClock) -> None:
    t = make()
    fail(t, keys("alice"), RULES.pair.free_attempts - 1)
    assert t.retry_after(keys("alice")) == 0
    waits = []
    for _ in range(12):
        t.failed(keys("alice"))
        waits.append(t.retry_after(keys("alice")))
    assert waits[:3] == [2, 4, 8]
    assert waits == sorted(waits)
    assert max(waits) == RULES.pair.max_delay
    clock.advance(RULES.pair.max_delay)
    assert t.retry_after(keys("alice")) == 0


def test_failures_are_forgotten_after_a_quiet_period(make: Callable[[], Any], clock: ManualClock) -> None:
    t = make()
    fail(t, keys("alice"), 8)
    assert t.retry_after(keys("alice")) > 0
    clock.advance(RULES.pair.forget_after + 1)
    assert t.retry_after(keys("alice")) == 0
    t.failed(keys("alice"))  # counting starts again from one
    assert t.retry_after(keys("alice")) == 0


def test_counters_are_shared_between_instances_on_one_store(make: Callable[[], Any]) -> None:
    first, second = make(), make()
    fail(first, keys("alice"), 3)
    fail(second, keys("alice"), 3)
    assert first.retry_after(keys("alice")) > 0
    assert second.retry_after(keys("alice")) > 0


def test_a_success_clears_the_pair_but_not_the_account_wide_count(make: Callable[[], Any]) -> None:
    t = make()
    fail(t, keys("alice"), RULES.pair.free_attempts)
    assert t.retry_after(keys("alice")) > 0
    t.succeeded(keys("alice"))
    assert t.retry_after(keys("alice")) == 0
    # The account-wide count still holds those failures: together with others it still slows guessing.
    for i in range(RULES.account.free_attempts - RULES.pair.free_attempts):
        t.failed(keys("alice", f"203.0.113.{i}"))
    assert t.retry_after(keys("alice", "192.0.2.1")) > 0


def test_guesses_from_many_addresses_slow_the_account_but_never_for_long(
    make: Callable[[], Any], clock: ManualClock
) -> None:
    t = make()
    for i in range(RULES.account.free_attempts - 1):
        t.failed(keys("alice", f"203.0.113.{i}"))  # one guess per address stays under each pair's limit
    assert t.retry_after(keys("alice", "192.0.2.1")) == 0
    for i in range(40):
        t.failed(keys("alice", f"198.18.0.{i}"))
    # The real user, from their own address, waits at most the account-wide ceiling, not the pair's.
    wait = t.retry_after(keys("alice", "192.0.2.1"))
    assert 0 < wait <= RULES.account.max_delay < RULES.pair.max_delay
    clock.advance(wait)
    assert t.retry_after(keys("alice", "192.0.2.1")) == 0
    # Another account is untouched.
    assert t.retry_after(keys("bob", "192.0.2.1")) == 0


def test_one_address_spraying_usernames_is_slowed(make: Callable[[], Any]) -> None:
    t = make()
    for i in range(RULES.address.free_attempts):
        assert t.retry_after(keys(f"user{i}", "198.51.100.9")) == 0
        t.failed(keys(f"user{i}", "198.51.100.9"))
    assert t.retry_after(keys("victim", "198.51.100.9")) > 0
    assert t.retry_after(keys("victim", "192.0.2.1")) == 0


def test_without_an_address_the_account_gets_the_normal_policy(make: Callable[[], Any]) -> None:
    t = make()
    fail(t, ["user:alice"], RULES.pair.free_attempts)
    assert t.retry_after(["user:alice"]) == RULES.pair.base_delay


def test_huge_and_odd_usernames_are_just_keys(make: Callable[[], Any]) -> None:
    t = make()
    for name in ["a" * 100_000, "al\x00ice", "ALİCE", "😀", "' OR 1=1 --"]:
        fail(t, keys(name), RULES.pair.free_attempts)
        assert t.retry_after(keys(name)) > 0
    assert t.retry_after(keys("alice", "192.0.2.1")) == 0


@settings(max_examples=200, deadline=None)
@given(
    attempts=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200), st.floats(0, 120)), max_size=300),
    policy=st.builds(ThrottlePolicy, free_attempts=st.integers(1, 8), base_delay=st.floats(0.5, 4),
                     max_delay=st.floats(10, 600)),
)
def test_no_pattern_of_failures_elsewhere_keeps_a_clean_address_out_longer_than_the_account_ceiling(
    attempts: list[tuple[int, int, float]], policy: ThrottlePolicy
) -> None:
    """Whatever others do (any accounts, any addresses but the user's, any timing), the real
    user's wait stays within the account-wide ceiling, and every wait ends."""
    clock = ManualClock()
    t = InMemoryLoginThrottle(clock, policy)
    rules = ThrottleRules.scaled(policy)
    for user, addr, pause in attempts:
        clock.advance(pause)
        k = keys(f"u{user}", f"10.0.0.{addr}")
        if t.retry_after(k) == 0:
            t.failed(k)
        wait = t.retry_after(keys("u0", "192.0.2.1"))
        assert wait <= rules.account.max_delay + 1
    clock.advance(max(rules.pair.max_delay, rules.address.max_delay, rules.account.max_delay) + 1)
    assert t.retry_after(keys("u0", "192.0.2.1")) == 0
    assert all(t.retry_after(keys(f"u{u}", f"10.0.0.{a}")) == 0 for u, a, _ in attempts)
