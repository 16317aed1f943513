"""Synthetic faces for the people tests: each identity is a random direction in 128 values; its
faces lie within about 0.2 of it (dlib's embeddings of one person lie within 0.6), two identities
about 1.4 apart."""

from __future__ import annotations

import math
import random

from imagerepo.domain.people import Box, FaceFinding


def identity(seed: int) -> tuple[float, ...]:
    rnd = random.Random(f"identity-{seed}")
    v = [rnd.gauss(0, 1) for _ in range(128)]
    n = math.sqrt(sum(x * x for x in v))
    return tuple(x / n for x in v)


def finding(who: int, shot: int, *, quality: float = 0.9, spread: float = 0.2) -> FaceFinding:
    rnd = random.Random(f"shot-{who}-{shot}")
    noise = [rnd.gauss(0, 1) for _ in range(128)]
    n = math.sqrt(sum(x * x for x in noise))
    base = identity(who)
    emb = tuple(b + spread * x / n for b, x in zip(base, noise, strict=True))
    return FaceFinding(Box(0.1 * (shot % 5), 0.1, 0.2, 0.25), emb, quality, crop=f"crop {who} {shot}".encode())
