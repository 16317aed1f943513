"""Display names of uploads (domain.images.clean_filename): a property test over any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imagerepo.domain.images import MAX_FILENAME_LENGTH, clean_filename


@given(st.text(max_size=600))
def test_a_display_name_is_short_printable_and_has_no_directory(name: str) -> None:
    cleaned = clean_filename(name)
    assert 0 < len(cleaned) <= MAX_FILENAME_LENGTH
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert cleaned.isprintable()


@given(st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=600),
       st.sampled_from(["png", "jpg", "jpeg", "heic", "webp"]))
def test_a_long_name_is_shortened_before_its_extension(stem: str, ext: str) -> None:
    cleaned = clean_filename(f"{stem}.{ext}")
    assert cleaned.endswith(f".{ext}")
    assert len(cleaned) <= MAX_FILENAME_LENGTH
    assert cleaned[: -len(ext) - 1] == stem[: len(cleaned) - len(ext) - 1]


def test_a_400_character_name_keeps_its_extension() -> None:
    assert clean_filename("a" * 400 + ".png") == "a" * 251 + ".png"
