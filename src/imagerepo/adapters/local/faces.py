"""LocalFaceAnalyzer: faces found offline with YuNet, described with dlib's face recognition model.

- Detection: YuNet (the ``yuface`` wheel, BSD-3, compiled in) on the image at most 960 px wide.
- Alignment and embedding: dlib's 5-point shape predictor and ResNet face descriptor from the
  ``face_recognition_models`` package (CC0), read from the installed files; nothing is downloaded.
  The descriptor network runs in onnxruntime (``dlib_resnet``: the same numbers, ten times less
  CPU than the BLAS-less ``dlib-bin``), or in dlib itself when its file cannot be converted.
  The 68-point predictor in that package is never used (its training data is non-commercial).
- Quality (0..1): the least of face size, sharpness (Laplacian variance of the aligned chip),
  frontal pose (nose between the eyes) and the detector's confidence.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from imagerepo.adapters.codecs import optional_formats
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.people import Box, FaceFinding

log = logging.getLogger(__name__)

DETECT_SIDE = 800  # YuNet's input, longest side: faces from 1/40 of it are found
WORK_SIDE = 2048  # the pixels faces are described from, at most (longest side)
# A JPEG decodes at the smallest DCT scale that keeps its longest side at least this long:
# 12 MP (4000×3000, 4032×3024) at 1/2, about 2000 px, with no resize after it; 8 MP in full.
DRAFT_SIDE = 2000
MIN_CONFIDENCE = 0.75  # YuNet scores are 0..1 here; false faces on photos stay below
MIN_FACE_PX = 20  # in the detection image: smaller boxes are noise
GOOD_FACE_PX = 80  # a face this wide (working pixels) or wider is sharp enough to identify
SHARP_VARIANCE = 60.0  # Laplacian variance of the 150 px chip at which a face counts as sharp
CROP_SIDE = 160


def _models_dir() -> Path:
    """The face_recognition_models files, found without importing the package (which needs
    setuptools' pkg_resources at import time)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise AnalysisFailed("face_recognition_models is not installed (pip install 'imagerepo[local]')")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class LocalFaceAnalyzer:
    name = "local-faces"

    def __init__(self, max_pixels: int | None = None) -> None:
        self._lock = threading.Lock()
        self._models: tuple[Any, Callable[[npt.NDArray[np.uint8]], Sequence[float]]] | None = None
        if max_pixels is not None:  # in a child process too: decode what the inspector accepted
            allow_pixels(max_pixels)

    def _load(self) -> tuple[Any, Callable[[npt.NDArray[np.uint8]], Sequence[float]]]:
        with self._lock:
            if self._models is None:
                try:
                    import dlib
                except ImportError as e:
                    raise AnalysisFailed("face recognition needs dlib: pip install 'imagerepo[local]'") from e

                d = _models_dir()
                self._models = (
                    dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat")),
                    _descriptor(d / "dlib_face_recognition_resnet_model_v1.dat"),
                )
            return self._models

    def find_faces(self, data: bytes, content_type: str) -> Sequence[FaceFinding]:
        # YuNet's OpenMP threads spin against each other and the other workers: one thread is
        # 3-10x faster on a busy machine (0.25 s instead of 0.5-0.9 s at 960 px on 2 cores). Its
        # private libgomp reads this when yuface is first imported.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            import yuface
        except ImportError as e:
            raise AnalysisFailed("face recognition needs the local models: pip install 'imagerepo[local]'") from e

        im = _decode(data)  # kept as Pillow's: a 12 MP photo's pixels are never copied whole
        w, h = im.size
        scale = min(1.0, DETECT_SIDE / max(h, w))
        small = im if scale == 1.0 else im.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
        confs, boxes, marks = yuface.detect(np.ascontiguousarray(np.asarray(small)[:, :, ::-1]), conf=MIN_CONFIDENCE)
        found = []
        for conf, box, mark in zip(confs, boxes, marks, strict=True):
            bx, by, bw, bh = (float(v) for v in box)
            if min(bw, bh) < MIN_FACE_PX:
                continue
            found.append(self._describe(im, scale, (bx, by, bw, bh), [float(v) for v in mark], float(conf) / 100))
        return found

    def _describe(self, im: Image.Image, scale: float, box: tuple[float, float, float, float],
                  marks: list[float], confidence: float) -> FaceFinding:
        predictor, describe = self._load()  # first: it says what to install when dlib is missing
        import dlib

        w, h = im.size
        bx, by, bw, bh = (v / scale for v in box)
        # A region around the face, scaled so that the face is about 200 px wide: dlib aligns
        # and describes it the same whatever the photo's size.
        pad = 0.6 * max(bw, bh)
        x0, y0 = max(0, int(bx - pad)), max(0, int(by - pad))
        x1, y1 = min(w, int(bx + bw + pad)), min(h, int(by + bh + pad))
        part = im.crop((x0, y0, x1, y1))
        k = min(1.0, 200.0 / max(bw, 1.0))
        if k < 1.0:
            part = part.resize((max(1, round(part.width * k)), max(1, round(part.height * k))), Image.Resampling.BOX)
        region = np.ascontiguousarray(np.asarray(part))
        rect = dlib.rectangle(int((bx - x0) * k), int((by - y0) * k), int((bx - x0 + bw) * k), int((by - y0 + bh) * k))
        shape = predictor(region, rect)
        chip = np.asarray(dlib.get_face_chip(region, shape, size=150, padding=0.25))
        embedding = tuple(float(v) for v in describe(chip))
        quality = min(
            min(1.0, min(bw, bh) / GOOD_FACE_PX),
            min(1.0, _sharpness(chip) / SHARP_VARIANCE),
            _frontal(marks),
            min(1.0, max(0.0, (confidence - 0.5) * 2.5)),
        )
        crop = _crop(im, bx, by, bw, bh)
        return FaceFinding(Box(bx / w, by / h, bw / w, bh / h), embedding, round(quality, 4), crop)


def _descriptor(path: Path) -> Callable[[npt.NDArray[np.uint8]], Sequence[float]]:
    """dlib's descriptor network in onnxruntime; dlib's own (slower, same numbers) when the file
    cannot be converted or onnxruntime is missing, said once in the log."""
    try:
        from imagerepo.adapters.local.dlib_resnet import FaceDescriptor

        return FaceDescriptor(path).describe
    except Exception as e:  # any failure of the fast path leaves dlib's own
        log.warning("face descriptor: dlib's own network is used (%s: %s)", type(e).__name__, e)
        import dlib

        encoder = dlib.face_recognition_model_v1(str(path))
        return encoder.compute_face_descriptor  # type: ignore[no-any-return]


def _decode(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            optional_formats()
            im = Image.open(io.BytesIO(data))
            if im.format == "JPEG":
                # Pillow picks the scale from the requested size's *shorter* ratio: ask for the
                # image's own shape, so that 12 MP decodes at 1/2 instead of in full.
                k = min(1.0, DRAFT_SIDE / max(im.size))
                im.draft("RGB", (max(1, math.ceil(im.width * k)), max(1, math.ceil(im.height * k))))
            im.seek(0)
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # no copy of an upright photo
            im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
            return im if im.mode == "RGB" else im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise AnalysisFailed(f"the image could not be decoded: {e}") from e


def _sharpness(chip: npt.NDArray[np.uint8]) -> float:
    g = chip.astype(np.float32).mean(axis=2)
    lap = g[1:-1, 1:-1] * -4 + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def _frontal(marks: list[float]) -> float:
    """1 for a face looking at the camera, falling to 0 as the nose nears an eye (a profile).
    YuNet's landmarks: right eye, left eye, nose, mouth right, mouth left (x, y each)."""
    ex0, ex1, nx = marks[0], marks[2], marks[4]
    span = abs(ex1 - ex0)
    if span < 1:
        return 0.0
    offset = abs(nx - (ex0 + ex1) / 2) / (span / 2)  # 0 centred, 1 over an eye
    return max(0.0, min(1.0, 1.2 - offset))


def _crop(photo: Image.Image, bx: float, by: float, bw: float, bh: float) -> bytes:
    """A square JPEG around the face for the People page."""
    w, h = photo.size
    side = 1.4 * max(bw, bh)
    cx, cy = bx + bw / 2, by + bh / 2
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(w, int(cx + side / 2)), min(h, int(cy + side / 2))
    im = photo.crop((x0, y0, x1, y1))
    im.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()
