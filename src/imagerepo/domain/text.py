"""Text analysis for search: folding, words and their English stems, the same for documents and queries."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")
MAX_QUERY_TERMS = 16


def _fold(text: str) -> str:
    # casefold between two NFKD passes: compatibility forms like 'ᴬ' decompose to capitals.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Lower-case, accent-free alphanumeric words."""
    words, current = [], []
    for ch in _fold(text):
        if (ch.isalnum() and ch.isascii()) or (ch.isalpha() and not ch.isascii()):
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return [w[:64] for w in words]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word)) if word.isascii() else word


def query_terms(q: str) -> list[str]:
    """The keys a query matches on: stems of its words, duplicates dropped, in order."""
    out: list[str] = []
    for w in tokenize(q):
        s = stem(w)
        if s not in out:
            out.append(s)
    return out[:MAX_QUERY_TERMS]
