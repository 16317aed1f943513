"""ImageNet labels and the coarse hierarchy shipped as data, and how class scores become tags."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import numpy.typing as npt

from imagerepo.domain.images import Tag

# A fine label is a tag from this probability on; broad words from this summed probability.
FINE_THRESHOLD = 0.15
BROAD_THRESHOLD = 0.30
# The description names the top label from this probability on (else a broad word from BROAD_SUBJECT).
SUBJECT_THRESHOLD = 0.50
BROAD_SUBJECT = 0.50
_TOP = 5


@functools.cache
def labels() -> tuple[str, ...]:
    text = resources.files("imagerepo.adapters.local").joinpath("data/imagenet_labels.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@functools.cache
def broad_words() -> tuple[tuple[str, ...], ...]:
    """For each class index, its coarse words (in file order)."""
    text = resources.files("imagerepo.adapters.local").joinpath("data/imagenet_hierarchy.txt").read_text("utf-8")
    words: list[list[str]] = [[] for _ in labels()]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        span, _, names = line.partition(":")
        first, _, last = span.strip().partition("-")
        for i in range(int(first), int(last or first) + 1):
            for name in (n.strip() for n in names.split(",")):
                if name and name not in words[i]:
                    words[i].append(name)
    return tuple(tuple(w) for w in words)


def tags_from_scores(probs: npt.NDArray[np.float32]) -> tuple[list[Tag], str | None]:
    """Tags (fine labels and broad words, deduplicated, best first) and the subject to describe."""
    names, broad = labels(), broad_words()
    order = np.argsort(-probs)[:_TOP]
    fine: dict[str, float] = {}
    for i in order:
        p = float(probs[i])
        if p >= FINE_THRESHOLD:
            fine[names[i].lower()] = max(fine.get(names[i].lower(), 0.0), p)
    # A broad word is as likely as all of its classes together (cat = tabby + tiger cat + ...).
    summed: dict[str, float] = {}
    for i in np.flatnonzero(probs >= 0.01):
        for word in broad[i]:
            summed[word] = summed.get(word, 0.0) + float(probs[i])
    tags = dict(fine)
    for word, p in summed.items():
        if p >= BROAD_THRESHOLD and word not in tags:
            tags[word] = min(p, 1.0)
    ranked = [Tag(name, round(conf, 3)) for name, conf in sorted(tags.items(), key=lambda kv: -kv[1])]
    subject: str | None = None
    top = int(order[0])
    if float(probs[top]) >= SUBJECT_THRESHOLD:
        subject = names[top]
    else:
        candidates = [(p, w) for w, p in summed.items() if p >= BROAD_SUBJECT]
        if candidates:
            # The most specific of the likely broad words: fewest classes share it.
            subject = min(candidates, key=lambda pw: (_class_count(pw[1]), -pw[0]))[1]
    return ranked, subject


@functools.cache
def _class_count(word: str) -> int:
    return sum(1 for w in broad_words() if word in w)
