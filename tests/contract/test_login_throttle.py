"""LoginThrottle contract: the fake, SQLite and PostgreSQL slow guessing alike, and never lock out for good."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerepo.adapters.memory import (
    InMemoryAccountRepository,
    InMemoryLoginThrottle,
    InMemorySessionRepository,
    ManualClock,
)
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import InvalidLogin, TooManyAttempts
from imagerepo.domain.throttle import CounterState, ThrottlePolicy, ThrottleRules, pair_key
from tests.bursts import GateHasher, burst
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


def attempt(throttle: Any, k: list[str], ok: bool) -> None:
    """One whole attempt: reserved, then ended as it went."""
    assert throttle.reserve(k) == 0
    (throttle.succeeded if ok else throttle.failed)(k)


def test_a_success_clears_the_pair_but_not_the_account_wide_count(make: Callable[[], Any]) -> None:
    t = make()
    for _ in range(RULES.pair.free_attempts - 1):
        attempt(t, keys("alice"), ok=False)
    attempt(t, keys("alice"), ok=True)
    fail(t, keys("alice"), RULES.pair.free_attempts)
    assert t.retry_after(keys("alice")) > 0
    t.succeeded(keys("alice"))
    assert t.retry_after(keys("alice")) == 0
    # The account-wide count still holds those failures: together with others it still slows guessing.
    for i in range(RULES.account.free_attempts - RULES.pair.free_attempts):
        t.failed(keys("alice", f"203.0.113.{i}"))
    assert t.retry_after(keys("alice", "192.0.2.1")) > 0


def test_an_attempt_counts_from_its_reservation_and_a_refused_one_not_at_all(make: Callable[[], Any]) -> None:
    first, second = make(), make()
    for n in range(RULES.pair.free_attempts):
        assert (first, second)[n % 2].reserve(keys("alice")) == 0
    # Those attempts are still being checked, yet they already count, on every instance.
    assert second.retry_after(keys("alice")) == RULES.pair.base_delay
    assert first.reserve(keys("alice")) == RULES.pair.base_delay
    for _ in range(RULES.pair.free_attempts):
        first.failed(keys("alice"))
    # The refused attempt counted nothing: the wait is that of the free attempts alone.
    assert second.retry_after(keys("alice")) == RULES.pair.base_delay


def test_successes_count_against_nothing(make: Callable[[], Any]) -> None:
    t = make()
    for n in range(RULES.account.free_attempts + 5):
        attempt(t, keys("alice", f"203.0.113.{n % 2}"), ok=True)
    assert t.reserve(keys("alice")) == 0
    t.succeeded(keys("alice"))
    # And after a success the failures before it stand as they were on the shared counters.
    for n in range(RULES.address.free_attempts - 1):
        attempt(t, keys(f"user{n}", "198.51.100.9"), ok=False)
    attempt(t, keys("victim", "198.51.100.9"), ok=True)
    attempt(t, keys("victim2", "198.51.100.9"), ok=False)
    assert t.retry_after(keys("victim3", "198.51.100.9")) == RULES.address.base_delay


def test_an_attempt_that_never_ends_counts_as_a_failure_until_forgotten(
    make: Callable[[], Any], clock: ManualClock
) -> None:
    t = make()
    for _ in range(RULES.pair.free_attempts):
        assert t.reserve(keys("alice")) == 0  # and then the process died
    assert t.reserve(keys("alice")) > 0
    clock.advance(RULES.forget_after + 1)
    assert t.retry_after(keys("alice")) == 0
    attempt(t, keys("alice"), ok=False)
    assert t.retry_after(keys("alice")) == 0  # counting started again from one


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


@given(
    failures=st.integers(0, 100),
    in_flight=st.integers(0, 5),
    ahead=st.floats(0, 60),
    policy=st.builds(ThrottlePolicy, free_attempts=st.integers(1, 8)),
)
def test_a_counter_stamped_by_a_clock_running_ahead_refuses_no_free_attempt(
    failures: int, in_flight: int, ahead: float, policy: ThrottlePolicy
) -> None:
    """Processes' clocks differ a little (and a step may read the clock before its turn): a
    failure stamped "in the future" is a recent one, not a reason to refuse a free attempt."""
    now = ManualClock().now()
    stamp = now + timedelta(seconds=ahead)
    rules = ThrottleRules.scaled(policy)
    counter = CounterState(failures=failures, last_failure=stamp, in_flight=in_flight, reserved_at=stamp)
    wait = rules.wait(["user:alice"], {pair_key("user:alice", ""): counter}, now)
    if failures + in_flight < policy.free_attempts:
        assert wait == 0
    else:
        assert 0 < wait <= policy.delay(failures + in_flight) + 1


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


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_a_burst_of_simultaneous_guesses_gets_no_more_checks_than_the_free_allowance(
    make: Callable[[], Any], clock: ManualClock, username: str
) -> None:
    """Security: 30 wrong guesses sent at once are not all tried; at most the free attempts
    reach the password check, the rest are refused, and all of them count."""
    hasher = GateHasher(guesses=30, allowance=RULES.pair.free_attempts)
    accounts, sessions = InMemoryAccountRepository(), InMemorySessionRepository()
    # Two instances on one store, as two processes would have; guesses alternate between them.
    services = [AccountService(accounts, sessions, hasher, clock, make()) for _ in range(2)]
    services[0].sign_up("alice", "correct horse battery")

    def guess(n: int) -> bool:
        try:
            services[n % 2].sign_in(username, f"wrong guess {n}", client="198.51.100.7")
        except TooManyAttempts:
            return True
        except InvalidLogin:
            return False
        raise AssertionError("a wrong password signed in")

    burst(hasher, guess)
    assert 0 < hasher.checks <= RULES.pair.free_attempts
    assert hasher.refused == 30 - hasher.checks
    # Every guess that was checked counted: the next one waits, even with the right password.
    with pytest.raises(TooManyAttempts):
        services[1].sign_in(username, "correct horse battery", client="198.51.100.7")
