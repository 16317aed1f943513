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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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
        return max(0.0, self.delay(failures) - elapsed)


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

    def cleared_by_success(self, keys: Sequence[str]) -> list[str]:
        return [k for k, _ in self.counters(keys) if k.startswith("pair:")]


def pair_key(user: str, addr: str) -> str:
    return f"pair:{len(user)}:{user}|{addr}"


def whole_seconds(wait: float) -> int:
    """A Retry-After value: whole seconds, rounded up, so a client that waits it gets through."""
    return math.ceil(wait) if wait > 0 else 0
