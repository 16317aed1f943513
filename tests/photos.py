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


def png(arr: npt.NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def package_photo(path: Path) -> bytes:
    """The file's bytes; a clear failure (never a skip) when its package is not installed."""
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/ensure-photos.sh (Debian sample photos)")
    return path.read_bytes()
