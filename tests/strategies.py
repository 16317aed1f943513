"""Hypothesis strategies shared by the test suites."""

from __future__ import annotations

import string

from hypothesis import strategies as st


def usernames() -> st.SearchStrategy[str]:
    return st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=3, max_size=32)


def passwords() -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=8, max_size=128
    ).filter(lambda p: not p.isdigit())
