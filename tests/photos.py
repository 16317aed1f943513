"""Real photos for the analyzer's tests: scikit-image's, and those of Debian packages that
scripts/ensure-photos.sh installs (bench/quality_labels.json lists them). Never the packages
reserved for independent evaluation (opencv-doc, plasma-workspace-wallpapers, mate-backgrounds)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

DARKNET = Path("/usr/share/darknet/data")  # darknet
LOMIRI = Path("/usr/share/backgrounds")  # lomiri-wallpapers-16.04 and -20.04
TUXPAINT = Path("/usr/share/tuxpaint/stamps")  # tuxpaint-stamps-default
GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")  # gcompris-qt-data: photos inside Qt resource bundles


def png(arr: npt.NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def package_photo(path: Path) -> bytes:
    """The file's bytes; a clear failure (never a skip) when its package is not installed."""
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/ensure-photos.sh (Debian sample photos)")
    return path.read_bytes()


def gcompris_photo(path: str) -> bytes:
    """A photo of gcompris-qt-data, named "BUNDLE.rcc:path/inside/it" as bench/quality_labels.json
    names it; a clear failure (never a skip) when the package is not installed."""
    from bench.qt_resources import read

    if not (GCOMPRIS / path.partition(":")[0]).is_file():
        pytest.fail(f"{GCOMPRIS} lacks {path}: run scripts/ensure-photos.sh (Debian sample photos)")
    return read(GCOMPRIS, path)


ERASE = "erase.rcc:gcompris/src/activities/erase/resource/"  # GCompris' 33 animal photos
MUSIC = "explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/"
MONUMENTS = "categorization.rcc:gcompris/src/activities/categorization/resource/images/monuments/"
TOOLS = "categorization.rcc:gcompris/src/activities/categorization/resource/images/tools/"
