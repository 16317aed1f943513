"""One honest sentence composed only from what the stages measured."""

from __future__ import annotations

from collections.abc import Sequence

from imagerepo.domain.colors import spoken_color_name
from imagerepo.domain.images import Color

# A color name is mentioned when its colors cover at least this share of the image.
_MENTION_SHARE = 0.15
# One name covering this much makes the image "mostly <name>" on its own.
_DOMINANT_SHARE = 0.75
_NEUTRAL = {"black", "gray", "white"}
# Words that take no "a" ("clothing", never "a clothing").
_MASS = {
    "clothing", "food", "furniture", "poultry", "cattle", "swimwear", "kitchenware", "footwear",
    "sports equipment", "snow", "water", "hay",
}
# Text this short is quoted in the sentence ("A street sign reading "STOP""); longer text after it.
_SHORT_TEXT_WORDS = 6
_SHORT_TEXT_CHARS = 40


def color_names(colors: Sequence[Color]) -> list[str]:
    """Basic color terms worth saying, by total share: at most two, or one when it dominates."""
    shares: dict[str, float] = {}
    for c in colors:
        name = spoken_color_name(c.name)
        shares[name] = shares.get(name, 0.0) + c.fraction
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
    if phrase.lower() in _MASS:
        return phrase
    first = phrase.split()[0].lower() if phrase.split() else ""
    vowel_sound = phrase[:1].lower() in "aeiou" and not first.startswith(("eu", "uni", "one", "use"))
    return ("an " if vowel_sound else "a ") + phrase


def describe(
    colors: Sequence[Color],
    *,
    subject: str | None = None,
    people: int = 0,
    text: str = "",
    worn: bool = False,
    first: str | None = None,
    setting: str | None = None,
    subject_is_setting: bool = False,
) -> str:
    """E.g. "A tabby cat, mostly brown and gray.", "A person wearing a suit, mostly white.",
    "A street sign reading "STOP", mostly red." or "A mostly blue and white image."

    ``subject`` is the classifier's label (already judged confident), ``people`` the number of
    people found, ``text`` what OCR read, ``worn`` whether the subject is something people wear
    (clothing), ``first`` the color a person names first (said first when it is worth saying).
    ``setting`` says where ("on a beach", from a confident scene word); when the subject's own
    class gave it (seashore), the setting replaces the subject beside people ("Two people on a
    beach") and is left out without them ("A seashore"). Nothing else is ever mentioned.
    """
    if setting and subject_is_setting:
        if people:
            subject = None
        else:
            setting = None
    names = color_names(colors)
    if first in names:
        names = [first] + [n for n in names if n != first]
    mostly = f"mostly {_and(names)}" if names else ""
    snippet = " ".join(text.split())
    short = bool(snippet) and len(snippet.split()) <= _SHORT_TEXT_WORDS and len(snippet) <= _SHORT_TEXT_CHARS
    things: list[str] = []
    if people:
        crowd = "a person" if people == 1 else f"{_count(people)} people"
        if subject and worn:
            wearing = "" if subject.lower() in _MASS else f" wearing {_article(subject)}"
            crowd += wearing if people == 1 or not wearing else f", one{wearing}"
            subject = None
        things.append(crowd)
    if subject:
        things.append(_article(subject) + (f' reading "{snippet}"' if short else ""))
    if things:
        sentence = _and(things) + (f" {setting}" if setting else "")
        sentence = sentence[0].upper() + sentence[1:]
        if mostly:
            sentence += f", {mostly}"
    elif short:
        sentence = f'The text "{snippet}"' + (f" on a {mostly} image" if mostly else "")
    elif names:
        sentence = f"A {mostly} image"
    else:
        sentence = "An image"
    sentence += "."
    if snippet and not (short and (subject or not things)):
        if len(snippet) > 80:
            snippet = snippet[:77].rstrip() + "…"
        sentence += f' Text: "{snippet}"'
    return sentence


def _count(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if n < len(words) else str(n)
