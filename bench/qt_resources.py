"""Reads one file out of a Qt resource bundle (.rcc), as GCompris ships its photos.

Debian's gcompris-qt-data keeps each activity's pictures in /usr/share/gcompris-qt/rcc/NAME.rcc.
The format (Qt's rcc, versions 1-3): "qres", then big-endian version, tree, data and names
offsets; the tree is a flat array of nodes (14 bytes, 22 from version 2) whose directories list
their children by index; a file's data is a 4-byte size and the bytes, zlib-compressed with a
4-byte length prefix when its flag 1 is set.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_DIRECTORY, _ZLIB, _ZSTD = 2, 1, 4


def files(bundle: bytes) -> Iterator[tuple[str, bytes]]:
    """(path inside the bundle, contents) of every file."""
    if bundle[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", bundle[4:20])
    node = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", bundle[names + offset : names + offset + 2])
        start = names + offset + 6  # after the length and a 4-byte hash
        return bundle[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node
        name_offset, flags = struct.unpack(">IH", bundle[at : at + 6])
        own = name(name_offset) if index else ""
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", bundle[at + 6 : at + 14])
            for child in range(first, first + count):
                yield from walk(child, f"{prefix}{own}/" if index else "")
            return
        (offset,) = struct.unpack(">I", bundle[at + 10 : at + 14])
        (size,) = struct.unpack(">I", bundle[data + offset : data + offset + 4])
        raw = bundle[data + offset + 4 : data + offset + 4 + size]
        if flags & _ZSTD:
            raise ValueError(f"{prefix}{own} is zstd-compressed")
        yield prefix + own, zlib.decompress(raw[4:]) if flags & _ZLIB else raw

    yield from walk(0, "")


def read(root: Path, path: str) -> bytes:
    """``path`` is "BUNDLE.rcc:path/inside/it"; ``root`` the folder of the bundles."""
    bundle, _, inside = path.partition(":")
    for found, contents in files((root / bundle).read_bytes()):
        if found == inside:
            return contents
    raise FileNotFoundError(f"{inside} is not in {root / bundle}")
