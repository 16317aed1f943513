"""Login throttling policy: free attempts, then a doubling wait with a ceiling.

A sign-in attempt names an account (``user:<name>``) and, when known, a client address
(``addr:<ip>``). Failures are counted on three counters, each with its own policy:

- the pair (account, address): the normal policy, so one guesser is slowed quickly;
- the address alone: more free attempts (one address spraying many usernames);
- the account alone: many more free attempts and a short ceiling, so guesses spread over many
  addresses are still slowed, yet cannot keep the real user (whose own pair counter is clean)
  out for longer than that ceiling.

A success clears only the pair's counter: the account-wide count decays on its own, so the
attacker cannot reset it, and the real user's success does not grant the attacker fresh tries.

An attempt is reserved before its password is checked (``reserve``) and counts as a failure
while it is in flight, so guesses sent at once cannot all pass before the first one fails; it
then ends as a failure or a success.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs


@attrs.frozen
class ThrottlePolicy:
    free_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 300.0
    # Failures older than this are forgotten, so a lockout never lasts for good.
    forget_after: float = 900.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        if failures < self.free_attempts:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** (failures - self.free_attempts)))

    def wait(self, failures: int, elapsed: float) -> float:
        """Seconds still to wait, ``elapsed`` seconds after the last of ``failures``."""
        if elapsed > self.forget_after:
            return 0.0
        # A failure stamped a little "later" (another process's clock, or a step that read the
        # clock before taking its turn) is just recent.
        return max(0.0, self.delay(failures) - max(0.0, elapsed))


@attrs.frozen
class CounterState:
    """One counter as stored."""

    failures: int
    last_failure: datetime
    # Attempts reserved and not yet ended, and when the latest of them was reserved.
    in_flight: int = 0
    reserved_at: datetime | None = None

    @property
    def last_seen(self) -> datetime:
        """The latest failure, or reservation still in flight."""
        if self.in_flight and self.reserved_at is not None:
            return max(self.last_failure, self.reserved_at)
        return self.last_failure

    def seen(self, now: datetime) -> tuple[int, float]:
        """(failures, seconds since the last), an attempt in flight counting as a failure made
        when it was reserved (one whose process died thus counts, and is forgotten in time)."""
        return self.failures + self.in_flight, (now - self.last_seen).total_seconds()

    def idle(self, now: datetime, policy: ThrottlePolicy) -> bool:
        """Quiet for longer than ``policy`` remembers: the counter starts again from zero."""
        return (now - self.last_seen).total_seconds() > policy.forget_after


# A counter's new state after an attempt's step; None: the counter is deleted.
Changes = dict[str, CounterState | None]


@attrs.frozen
class ThrottleRules:
    """The counters one sign-in attempt touches, and the policy of each."""

    pair: ThrottlePolicy = ThrottlePolicy()
    address: ThrottlePolicy = ThrottlePolicy(free_attempts=20)
    account: ThrottlePolicy = ThrottlePolicy(free_attempts=50, max_delay=30.0)

    @classmethod
    def scaled(cls, policy: ThrottlePolicy | None = None) -> ThrottleRules:
        """Rules built around ``policy`` as the pair policy (defaults when None)."""
        p = policy or ThrottlePolicy()
        return cls(
            pair=p,
            address=attrs.evolve(p, free_attempts=p.free_attempts * 4),
            account=attrs.evolve(p, free_attempts=p.free_attempts * 10, max_delay=min(p.max_delay, 30.0)),
        )

    def counters(self, keys: Sequence[str]) -> list[tuple[str, ThrottlePolicy]]:
        """(counter key, policy) for an attempt named by ``keys`` (``user:…``, ``addr:…``)."""
        users = [k for k in keys if k.startswith("user:")]
        addrs = [k for k in keys if k.startswith("addr:")]
        found = [(u, self.account) for u in users] + [(a, self.address) for a in addrs]
        # Without an address the account's own attempts get the normal policy.
        found += [(pair_key(u, a), self.pair) for u in users for a in addrs or [""]]
        return found

    @property
    def forget_after(self) -> float:
        """Seconds after which no counter matters any more: older ones may be deleted."""
        return max(p.forget_after for p in (self.pair, self.address, self.account))

    def retry_after(
        self, counters: Sequence[tuple[str, ThrottlePolicy]], found: Mapping[str, tuple[int, float]]
    ) -> int:
        """Retry-After for an attempt: the longest wait of its counters.

        ``found`` maps a counter key to (failures, seconds since the last failure); counters
        without an entry have no failures.
        """
        wait = 0.0
        for key, policy in counters:
            if key in found:
                failures, elapsed = found[key]
                wait = max(wait, policy.wait(failures, elapsed))
        return whole_seconds(wait)

    def wait(self, keys: Sequence[str], state: Mapping[str, CounterState], now: datetime) -> int:
        """Retry-After for an attempt named by ``keys``, given the stored counters ``state``."""
        return self.retry_after(self.counters(keys), {k: c.seen(now) for k, c in state.items()})

    def reserve(self, keys: Sequence[str], state: Mapping[str, CounterState], now: datetime) -> tuple[int, Changes]:
        """(0, the counters with the attempt in flight) when it may go ahead; else (seconds to wait,
        no change). The caller reads ``state`` and writes the changes atomically."""
        wait = self.wait(keys, state, now)
        if wait > 0:
            return wait, {}
        changes: Changes = {}
        for key, policy in self.counters(keys):
            c = self._current(state.get(key), policy, now)
            changes[key] = attrs.evolve(c, in_flight=c.in_flight + 1, reserved_at=now)
        return 0, changes

    def failed(self, keys: Sequence[str], state: Mapping[str, CounterState], now: datetime) -> Changes:
        """The attempt failed: one more failure on each counter, and its reservation (if any) ends."""
        changes: Changes = {}
        for key, policy in self.counters(keys):
            c = self._current(state.get(key), policy, now)
            changes[key] = attrs.evolve(
                c, failures=c.failures + 1, last_failure=max(c.last_failure, now), in_flight=max(0, c.in_flight - 1)
            )
        return changes

    def succeeded(self, keys: Sequence[str], state: Mapping[str, CounterState]) -> Changes:
        """The attempt succeeded: the pair's counter is cleared; the others only end its reservation."""
        changes: Changes = {}
        for key, _ in self.counters(keys):
            c = state.get(key)
            if key.startswith("pair:"):
                changes[key] = None
            elif c is not None and c.in_flight:
                changes[key] = attrs.evolve(c, in_flight=c.in_flight - 1)
        return changes

    @staticmethod
    def _current(counter: CounterState | None, policy: ThrottlePolicy, now: datetime) -> CounterState:
        if counter is None or counter.idle(now, policy):
            return CounterState(failures=0, last_failure=now)
        return counter


def pair_key(user: str, addr: str) -> str:
    return f"pair:{len(user)}:{user}|{addr}"


def whole_seconds(wait: float) -> int:
    """A Retry-After value: whole seconds, rounded up, so a client that waits it gets through."""
    return math.ceil(wait) if wait > 0 else 0
