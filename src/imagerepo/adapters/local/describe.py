"""One honest sentence composed only from what the stages measured."""

from __future__ import annotations

from collections.abc import Sequence

from imagerepo.domain.images import Color

# A color name is mentioned when its colors cover at least this share of the image.
_MENTION_SHARE = 0.15
# One name covering this much makes the image "mostly <name>" on its own.
_DOMINANT_SHARE = 0.75
_NEUTRAL = {"black", "gray", "white"}


def color_names(colors: Sequence[Color]) -> list[str]:
    """Names worth saying, by total share: at most two, or one when it dominates."""
    shares: dict[str, float] = {}
    for c in colors:
        shares[c.name] = shares.get(c.name, 0.0) + c.fraction
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    if not ranked:
        return []
    if ranked[0][1] >= _DOMINANT_SHARE:
        return [ranked[0][0]]
    return [name for name, share in ranked[:2] if share >= _MENTION_SHARE] or [ranked[0][0]]


def is_monochrome(colors: Sequence[Color]) -> bool:
    return bool(colors) and all(c.name in _NEUTRAL for c in colors)


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def describe(
    colors: Sequence[Color],
    *,
    subject: str | None = None,
    people: int = 0,
    text: str = "",
) -> str:
    """E.g. "A tabby cat, mostly brown and gray." or "A mostly blue and white image."

    ``subject`` is the classifier's label (already judged confident), ``people`` the number of
    faces found, ``text`` what OCR read. Nothing else is ever mentioned.
    """
    names = color_names(colors)
    mostly = f"mostly {_and(names)}" if names else ""
    things: list[str] = []
    if people == 1:
        things.append("a person")
    elif people > 1:
        things.append(f"{_count(people)} people")
    if subject:
        things.append(_article(subject))
    if things:
        sentence = _and(things)
        sentence = sentence[0].upper() + sentence[1:]
        if mostly:
            sentence += f", {mostly}"
    elif names:
        sentence = f"A {mostly} image"
    else:
        sentence = "An image"
    sentence += "."
    if text:
        snippet = " ".join(text.split())
        if len(snippet) > 80:
            snippet = snippet[:77].rstrip() + "…"
        sentence += f' Text: "{snippet}"'
    return sentence


def _count(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if n < len(words) else str(n)
