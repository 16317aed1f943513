"""bench/qt_resources.py: GCompris' photos read out of Qt resource bundles (.rcc)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from bench.qt_resources import files, read
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.photos import ERASE, GCOMPRIS, gcompris_photo


def bundle(entries: dict[str, tuple[bytes, bool]], version: int = 2) -> bytes:
    """A Qt resource bundle of one folder "d" holding ``entries`` (name -> (bytes, zlib'd)),
    laid out as Qt's rcc writes it: tree nodes, then data, then names."""
    names = b""
    offsets: dict[str, int] = {}
    for name in ["d", *entries]:
        offsets[name] = len(names)
        utf16 = name.encode("utf-16-be")  # the length counts UTF-16 units
        names += struct.pack(">HI", len(utf16) // 2, 0) + utf16
    data = b""
    node = 14 if version == 1 else 22
    stamp = b"" if version == 1 else bytes(8)
    tree = struct.pack(">IHII", 0, 2, 1, 1) + stamp  # the root: one child, node 1
    tree += struct.pack(">IHII", offsets["d"], 2, len(entries), 2) + stamp
    for name, (contents, packed) in entries.items():
        stored = struct.pack(">I", len(contents)) + zlib.compress(contents) if packed else contents
        tree += struct.pack(">IHHHI", offsets[name], 1 if packed else 0, 0, 0, len(data)) + stamp
        data += struct.pack(">I", len(stored)) + stored
    assert len(tree) == node * (2 + len(entries))
    head = 20 if version < 3 else 24
    out = b"qres" + struct.pack(">IIII", version, head, head + len(tree), head + len(tree) + len(data))
    out += b"" if version < 3 else struct.pack(">I", 0)
    return out + tree + data + names


@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="/:"), min_size=1, max_size=12),
        st.tuples(st.binary(max_size=200), st.booleans()),
        max_size=5,
    ),
    st.sampled_from([1, 2, 3]),
)
def test_every_file_comes_back_as_it_was_stored(entries: dict[str, tuple[bytes, bool]], version: int) -> None:
    got = dict(files(bundle(entries, version)))
    assert got == {f"d/{name}": contents for name, (contents, _) in entries.items()}


def test_other_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        list(files(b"PK\x03\x04 a zip file"))


def test_a_missing_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.webp"):
        read(GCOMPRIS, "erase.rcc:gcompris/src/activities/erase/resource/nothing.webp")


def test_gcompris_animal_photos_decode() -> None:
    photo = Image.open(io.BytesIO(gcompris_photo(ERASE + "horse.webp")))
    assert photo.format == "WEBP"
    assert min(photo.size) >= 500
    names = [n for n, _ in files((GCOMPRIS / "erase.rcc").read_bytes()) if n.endswith(".webp")]
    assert len(names) == 33
