"""ImageNet labels, their WordNet broader words and synonyms, and how class scores become tags."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

import attrs
import numpy as np
import numpy.typing as npt

from imagerepo.domain.images import Tag

# A fine label is a tag from this probability on (0.15 tagged a stop sign "pick": no tag rather
# than a wrong one); broad words from this summed probability. Between 0.30 and 0.40 the top label
# of the 76 development photos was wrong 6 times in 11 (nematode, acorn, face powder, maze, water
# buffalo, traffic light); the right ones (alp, daisy, missile, tiger cat, brambling) keep their
# broader word (mountain, flower, rocket, cat, bird), which sums its classes.
FINE_THRESHOLD = 0.40
BROAD_THRESHOLD = 0.30
# The description names the top label from this probability on (else a broad word from BROAD_SUBJECT).
SUBJECT_THRESHOLD = 0.50
BROAD_SUBJECT = 0.50
# A scene word ("beach" for seashore) is a guess about the surroundings: a higher bar.
SCENE_THRESHOLD = 0.45
# Scene words that say where, as a person puts it in a sentence ("Two people on a beach").
SETTINGS = {
    "beach": "on a beach",
    "lake": "by a lake",
    "sea": "by the sea",
    "underwater": "underwater",
    "harbor": "in a harbor",
    "snow": "in the snow",
    "field": "in a field",
    "sky": "in the sky",
    "street": "in a street",
    "room": "in a room",
}
_TOP = 5


@functools.cache
def labels() -> tuple[str, ...]:
    text = resources.files("imagerepo.adapters.local").joinpath("data/imagenet_labels.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@attrs.frozen
class ClassWords:
    """What WordNet says about one ImageNet class (data/imagenet_wordnet.tsv, generated)."""

    wnid: str
    broader: tuple[str, ...]  # searchable hypernyms, nearest first
    keywords: tuple[str, ...]  # other names of the class
    ancestors: frozenset[str]  # every WordNet hypernym offset
    scene: tuple[str, ...] = ()  # what photos of the class show around it (curated, not hypernyms)
    display: str = ""  # the name a description uses when the label would mislead ("monarch butterfly")


@attrs.frozen
class BroadWord:
    synsets: frozenset[str]  # WordNet offsets: a class under one of them is this word
    synonyms: tuple[str, ...]


@attrs.frozen
class Words:
    """What the classifier's scores say: tags, the subject to describe, search-only keywords."""

    tags: list[Tag]
    subject: str | None
    keywords: list[str]
    setting: str | None = None  # where, for the description: "on a beach" (a confident scene word)
    subject_is_setting: bool = False  # the subject is the place itself (seashore: "on a beach")


def _cells(cell: str) -> tuple[str, ...]:
    return tuple(w for w in cell.split(",") if w)


@functools.cache
def wordnet_table() -> tuple[dict[str, BroadWord], tuple[ClassWords, ...]]:
    """(broader word -> its synsets and synonyms, one ClassWords per class index)."""
    text = resources.files("imagerepo.adapters.local").joinpath("data/imagenet_wordnet.tsv").read_text("utf-8")
    broad: dict[str, BroadWord] = {}
    rows: list[ClassWords] = []
    for line in text.splitlines():
        f = line.split("\t")
        if f[0] == "broad":
            broad[f[1]] = BroadWord(frozenset(_cells(f[2])), _cells(f[3]))
        elif f[0].isdigit():
            rows.append(ClassWords(f[1], _cells(f[3]), _cells(f[4]), frozenset(_cells(f[5])), _cells(f[6]), f[7]))
    if len(rows) != len(labels()):
        raise ValueError("imagenet_wordnet.tsv does not match imagenet_labels.txt")
    return broad, tuple(rows)


@functools.cache
def broad_words() -> tuple[tuple[str, ...], ...]:
    """For each class index, its broader words, nearest first."""
    return tuple(c.broader for c in wordnet_table()[1])


def tags_from_scores(probs: npt.NDArray[np.float32]) -> Words:
    """Tags (fine labels and broad words, deduplicated, best first), the subject and synonyms."""
    names, broad = labels(), broad_words()
    order = np.argsort(-probs)[:_TOP]
    fine: dict[str, float] = {}
    fine_classes: list[int] = []
    for i in order:
        p = float(probs[i])
        if p >= FINE_THRESHOLD:
            fine[names[i].lower()] = max(fine.get(names[i].lower(), 0.0), p)
            fine_classes.append(int(i))
    # A broad word is as likely as all of its classes together (cat = tabby + tiger cat + ...).
    summed: dict[str, float] = {}
    for i in np.flatnonzero(probs >= 0.01):
        for word in broad[i]:
            summed[word] = summed.get(word, 0.0) + float(probs[i])
    tags = dict(fine)
    # FINE_THRESHOLD >= BROAD_THRESHOLD: a fine tag always brings its broader words (a daisy is a flower).
    for word, p in summed.items():
        if p >= BROAD_THRESHOLD and word not in tags:
            tags[word] = min(p, 1.0)
    scenes: dict[str, float] = {}
    rows = wordnet_table()[1]
    for i in np.flatnonzero(probs >= 0.01):
        for word in rows[i].scene:
            scenes[word] = scenes.get(word, 0.0) + float(probs[i])
    for word, p in scenes.items():
        if p >= SCENE_THRESHOLD and word not in tags:
            tags[word] = min(p, 1.0)
    ranked = [Tag(name, round(conf, 3)) for name, conf in sorted(tags.items(), key=lambda kv: -kv[1])]
    subject: str | None = None
    top = int(order[0])
    top_name = rows[top].display or names[top]
    if float(probs[top]) >= SUBJECT_THRESHOLD:
        subject = top_name
    else:
        candidates = [(p, w) for w, p in summed.items() if p >= BROAD_SUBJECT]
        if candidates:
            # The most specific of the likely broad words: fewest classes share it.
            subject = min(candidates, key=lambda pw: (_class_count(pw[1]), -pw[0]))[1]
    setting: str | None = None
    own = False
    places = [(p, w) for w, p in scenes.items() if w in SETTINGS and p >= SCENE_THRESHOLD]
    if places:
        word = max(places, key=lambda pw: pw[0])[1]  # on a tie, the first the class lists
        setting = SETTINGS[word]
        own = subject == top_name and word in rows[top].scene
        if own and "landscape" not in rows[top].broader:
            setting = None  # the subject says it already: never "a street sign in a street"
    return Words(ranked, subject, synonyms(tags, fine_classes), setting, own and setting is not None)


def synonyms(tags: Iterable[str], classes: Iterable[int]) -> list[str]:
    """Other names of the tagged classes and broader words, for search only (not already tags)."""
    broad, rows = wordnet_table()
    tag_list = list(tags)
    tag_set = set(tag_list)
    out = [k for i in classes for k in rows[i].keywords]
    out += [s for t in tag_list if t in broad for s in broad[t].synonyms]
    return [k for k in dict.fromkeys(out) if k.lower() not in tag_set]


@functools.cache
def _class_count(word: str) -> int:
    return sum(1 for w in broad_words() if word in w)


# What has a person's outline without being one: an animal standing up, a sign's pictogram.
_NOT_PERSON = ("animal", "sign")


def not_a_person(probs: npt.NDArray[np.float32]) -> float:
    """The classifier's summed probability that the photo shows an animal or a sign (0..1)."""
    broad = broad_words()
    share = sum(float(probs[i]) for i in np.flatnonzero(probs >= 0.01) if set(_NOT_PERSON) & set(broad[i]))
    return min(share, 1.0)


_WORN = {"clothing", "hat", "shoe", "coat", "swimwear"}


@functools.cache
def is_worn(word: str) -> bool:
    """Whether ``word`` (a label or a broader word) names something people wear, per WordNet."""
    if word.lower() in _WORN:
        return True
    index = {name.lower(): i for i, name in enumerate(labels())}
    index.update((row.display.lower(), i) for i, row in enumerate(wordnet_table()[1]) if row.display)
    i = index.get(word.lower())
    return i is not None and bool(_WORN & set(broad_words()[i]))
