"""Bursts of simultaneous sign-in guesses, for the tests that the throttle holds under them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from imagerepo.adapters.memory import FastPasswordHasher


class GateHasher:
    """FastPasswordHasher whose checks are counted and held at a gate, so every guess of a burst
    is in flight at once before any check ends. The gate opens when each guess is either being
    checked or refused, or as soon as more than ``allowance`` are checked (the claim is broken:
    no point waiting for guesses that may have no server thread left to run on)."""

    def __init__(self, guesses: int, allowance: int) -> None:
        self._inner = FastPasswordHasher()
        self.guesses = guesses
        self.allowance = allowance
        self._cond = threading.Condition()
        self.checks = 0  # verify and dummy_verify calls
        self.refused = 0  # guesses turned away before any check

    def hash(self, password: str) -> str:
        return self._inner.hash(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)

    def verify(self, password_hash: str, password: str) -> bool:
        self._hold()
        return self._inner.verify(password_hash, password)

    def dummy_verify(self, password: str) -> None:
        self._hold()
        self._inner.dummy_verify(password)

    def _hold(self) -> None:
        with self._cond:
            self.checks += 1
            self._cond.notify_all()
            if not self._cond.wait_for(self._open, timeout=60):
                raise AssertionError(f"the burst stalled: {self.checks} checked, {self.refused} refused")

    def _open(self) -> bool:
        return self.checks + self.refused >= self.guesses or self.checks > self.allowance

    def refuse(self) -> None:
        with self._cond:
            self.refused += 1
            self._cond.notify_all()


def burst(hasher: GateHasher, guess: Callable[[int], bool]) -> None:
    """Runs ``guess(n)`` for every guess ``hasher`` expects, in threads released at once;
    ``guess`` returns whether the guess was refused (throttled) rather than checked and wrong."""
    start = threading.Barrier(hasher.guesses)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        start.wait()
        try:
            if guess(n):
                hasher.refuse()
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
            hasher.refuse()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(hasher.guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
