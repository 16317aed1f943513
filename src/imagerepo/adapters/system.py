"""Small real adapters: the system clock, the argon2id password hasher, and threads that run calls together."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import argon2


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Argon2PasswordHasher:
    """argon2id via argon2-cffi; parameters default to the library's RFC 9106 low-memory profile
    (t=3, m=64 MiB, p=4). Hashes made with other parameters are re-hashed at the next sign-in."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=argon2.Type.ID
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        self.verify(self._dummy, password)


class ThreadsTogether:
    """Runs calls at once: the first in the caller's thread, the others in a small pool.

    Returns (or raises the first failure, in call order) only when every call has ended, so a
    caller that rolls back after a failure never races a call still running. Blob writes spend
    their time in fsync and in C code that releases the GIL, so two of them overlap well. The
    pool starts its threads as needed, up to ``threads``: enough that concurrent uploads do not
    queue behind each other's writes. A call must not itself run calls together (it could wait
    for a thread the pool cannot give).
    """

    def __init__(self, threads: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="together")

    def __call__(self, calls: Sequence[Callable[[], None]]) -> None:
        if not calls:
            return
        others: list[Future[None]] = [self._pool.submit(call) for call in calls[1:]]
        first: BaseException | None = None
        try:
            calls[0]()
        except BaseException as e:
            first = e
        errors = [first] + [f.exception() for f in others]  # exception() waits for the call to end
        for error in errors:
            if error is not None:
                raise error

    def close(self) -> None:
        self._pool.shutdown(wait=True)
