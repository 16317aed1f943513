"""Sign-in timing: an unknown user against a wrong password, with the production argon2 parameters.

Run with `python bench/bench_login_timing.py` (part of `make bench`). A ratio near 1 means a caller
cannot tell from the answer's timing whether a username exists. The test suite checks the cause
(each path runs exactly one argon2 verification with the same parameters,
tests/hardening/test_security.py); this measures the effect, which a loaded machine would blur.
Ends with one `bench name=value` line per figure. BENCH_LOGIN_RUNS sets the runs per path (default 15).
"""

from __future__ import annotations

import os
import statistics
import time

from imagerepo.adapters.memory import (
    InMemoryAccountRepository,
    InMemoryLoginThrottle,
    InMemorySessionRepository,
    ManualClock,
)
from imagerepo.adapters.system import Argon2PasswordHasher
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import InvalidLogin
from imagerepo.domain.throttle import ThrottlePolicy

RUNS = int(os.environ.get("BENCH_LOGIN_RUNS", "15"))


def main() -> None:
    clock = ManualClock()
    throttle = InMemoryLoginThrottle(clock, ThrottlePolicy(free_attempts=1_000_000))
    service = AccountService(InMemoryAccountRepository(), InMemorySessionRepository(), Argon2PasswordHasher(),
                             clock, throttle)
    service.sign_up("alice", "correct horse")

    def timed(username: str) -> float:
        started = time.perf_counter()
        try:
            service.sign_in(username, "wrong password")
        except InvalidLogin:
            pass
        else:
            raise AssertionError("a wrong password signed in")
        return time.perf_counter() - started

    timed("nobody")  # the first unknown user builds the dummy hash
    unknown, wrong = [], []
    for i in range(RUNS):  # interleaved, so drift in machine load hits both alike
        unknown.append(timed(f"nobody{i}"))
        wrong.append(timed("alice"))
    u, w = statistics.median(unknown), statistics.median(wrong)
    print(f"sign-in, median of {RUNS}: unknown user {u * 1000:.1f} ms, wrong password {w * 1000:.1f} ms")
    print(f"bench login_unknown_ms={u * 1000:.1f}")
    print(f"bench login_wrong_password_ms={w * 1000:.1f}")
    print(f"bench login_timing_ratio={u / w:.3f}")


if __name__ == "__main__":
    main()
