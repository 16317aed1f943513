"""dlib's face descriptor network rebuilt for onnxruntime describes real faces as dlib itself does:
every face found in allowed packaged photos (scikit-image's astronaut and cameraman, as found and
mirrored, and the real face photos of ``scripts/ensure-face-photos.sh`` when unpacked), aligned by
dlib as the analyzer aligns them, gives the same 128 numbers. A wrong layer (padding, shortcut,
normalization) moves them far more than the tolerance. A file that cannot be converted leaves
dlib's own network in use, said once in the log."""

from __future__ import annotations

import importlib.resources
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageOps

from imagerepo.adapters.local import dlib_resnet, faces
from imagerepo.adapters.local.dlib_resnet import DlibModelError, FaceDescriptor, parse
from imagerepo.adapters.local.faces import LocalFaceAnalyzer, _models_dir

FACE_PHOTOS = Path(__file__).resolve().parents[2] / "var" / "face-photos"
MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def _photos() -> list[bytes]:
    out = []
    for name in ("astronaut.png", "camera.png"):
        im = Image.open(io.BytesIO(importlib.resources.files("skimage").joinpath("data", name).read_bytes()))
        for variant in (im, ImageOps.mirror(im)):
            buf = io.BytesIO()
            variant.convert("RGB").save(buf, "PNG")
            out.append(buf.getvalue())
    # Unpacked for the people bench; the packaged photos above are always there.
    out += [p.read_bytes() for p in sorted(FACE_PHOTOS.glob("*")) if p.suffix in (".jpg", ".png")]
    return out


@pytest.fixture(scope="module")
def chips_and_fast() -> tuple[list[npt.NDArray[np.uint8]], Any]:
    """The aligned 150 px chips of every face the analyzer finds, and the descriptor it uses."""
    analyzer = LocalFaceAnalyzer()
    predictor, describe = analyzer._load()
    chips: list[npt.NDArray[np.uint8]] = []

    def record(chip: npt.NDArray[np.uint8]) -> list[float]:
        chips.append(chip.copy())
        return describe(chip)

    analyzer._models = (predictor, record)
    for data in _photos():
        analyzer.find_faces(data, "image/png")
    return chips, describe


def test_the_analyzer_uses_the_converted_network(chips_and_fast: tuple[list[Any], Any]) -> None:
    _, describe = chips_and_fast
    assert isinstance(getattr(describe, "__self__", None), FaceDescriptor)


def test_real_faces_are_described_as_dlib_describes_them(chips_and_fast: tuple[list[Any], Any]) -> None:
    import dlib

    chips, describe = chips_and_fast
    assert len(chips) >= 4  # the astronaut and the cameraman, each both ways round
    reference = dlib.face_recognition_model_v1(str(_models_dir() / MODEL))
    for chip in chips:
        want = np.array(reference.compute_face_descriptor(chip))
        got = np.array(describe(chip))
        cosine = float(want @ got / np.linalg.norm(want) / np.linalg.norm(got))
        assert cosine >= 0.9999
        assert np.abs(want - got).max() < 1e-4
        assert abs(np.linalg.norm(got) - np.linalg.norm(want)) < 1e-4  # not normalized, like dlib


def test_a_file_that_is_no_dlib_network_is_refused_clearly() -> None:
    data = (_models_dir() / MODEL).read_bytes()
    with pytest.raises(DlibModelError, match="ends early"):
        parse(data[: len(data) // 2])
    with pytest.raises(DlibModelError):
        parse(b"\x01\x01\x01\x05hello")
    with pytest.raises(DlibModelError):
        parse(b"")


def test_when_the_network_cannot_be_converted_dlibs_own_is_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(data: bytes) -> None:
        raise DlibModelError("unknown layer 'mish_'")

    monkeypatch.setattr(dlib_resnet, "parse", broken)
    with caplog.at_level(logging.WARNING, logger=faces.__name__):
        analyzer = LocalFaceAnalyzer()
        photo = importlib.resources.files("skimage").joinpath("data", "astronaut.png").read_bytes()
        [face] = analyzer.find_faces(photo, "image/png")
        analyzer.find_faces(photo, "image/png")
    assert [r.getMessage() for r in caplog.records if "dlib's own network" in r.getMessage()] == [
        "face descriptor: dlib's own network is used (DlibModelError: unknown layer 'mish_')"
    ]
    assert len(face.embedding) == 128
