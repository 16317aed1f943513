"""People seen from any side: the BlazePose person detector, run by LiteRT; faces with YuNet.

MediaPipe's wheel (Apache-2.0) ships ``pose_detection.tflite``, the first stage of BlazePose: an
SSD over 2,254 anchors that finds a person by the head and upper body, frontal, in profile or
from behind. The wheel is installed without its dependencies (requirements/extra.txt: it pins
numpy < 2 and protobuf < 5) and never imported: only the model file is read, and
``ai-edge-litert`` runs it (OpenCV's DNN cannot: the model uses sparse weights).

The anchors and box decoding follow MediaPipe's ``pose_detection_cpu.pbtxt`` (5 layers, strides
8, 16, 32, 32, 32, one aspect ratio, fixed anchor size; input letterboxed to 224×224, [-1, 1]).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

_SIZE = 224
# MediaPipe keeps detections from 0.5; with the upright rule below, 0.5 still took a lamp of the
# development photos for a person, 0.55 did not (and found the small people on darknet's beach).
MIN_SCORE = 0.55
# Two boxes overlapping more than this are one person (MediaPipe's min_suppression_threshold).
_SAME_PERSON_IOU = 0.3
# A detection this sure stands even when the classifier sees something else (a woman beside her
# dogs, darknet's person.jpg: 0.97, the classifier 0.93 sure of an animal).
SURE_SCORE = 0.9
# Below SURE_SCORE a body is dropped when the classifier is this sure the photo shows an animal or
# a sign (vocabulary.not_a_person): birds, apes standing up and the children on a school sign have
# a person's outline. Lower shares leave it (darknet's beach: 0.07; GCompris' Australian musician:
# 0.04); 0.25 drops a bee on a flowering quince (body 0.61, animal 0.28).
DOUBT_SHARE = 0.25
# YuNet's scores (0..1) from which a face is a person: GCompris' musicians' faces score 0.75-0.93
# at FACE_SIDE, false faces of the development photos (animals' faces, a doll) 0.63-0.85, swans
# none. Animals' faces (a calf, macaques, a spaniel) reach 0.85: under DOUBT_SHARE, 0.9 is needed.
MIN_FACE_SCORE = 0.75
SURE_FACE_SCORE = 0.9
# YuNet runs on the working image at most this long. At 384 px it finds faces on the same 6 of
# the 14 development photos with people as at 512 (the Haar cascade it replaced: 1), with fewer
# false faces (3 against 5) and less CPU: on 12 MP photos the face stage's median was 17.2-22.0 ms
# in a quiet `make bench-analysis`, against 28.4-38.8 at 512 px in two runs before.
FACE_SIDE = 384


def faces_available() -> bool:
    """True when the YuNet wheel (yuface) is installed."""
    return importlib.util.find_spec("yuface") is not None


def _model_path() -> Path | None:
    """The model file inside the installed mediapipe wheel, found without importing mediapipe."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "modules" / "pose_detection" / "pose_detection.tflite"
        if path.is_file():
            return path
    return None


def bodies_available() -> bool:
    """True when the model file and a runtime for it are installed."""
    return importlib.util.find_spec("ai_edge_litert") is not None and _model_path() is not None


@functools.cache
def _anchors() -> npt.NDArray[np.float32]:
    """Anchor centres (x, y) in 0..1: strides 8 and 16 with 2 anchors a cell, 32 with 6 (3 layers)."""
    centres: list[tuple[float, float]] = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        cells = _SIZE // stride
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
    return np.asarray(centres, dtype=np.float32)


def letterbox(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The image fitted into 224×224 with black borders, as a (1, 224, 224, 3) batch in [-1, 1]."""
    h, w = rgb.shape[:2]
    scale = _SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray(rgb).resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("RGB", (_SIZE, _SIZE))
    left, top = (_SIZE - nw) // 2, (_SIZE - nh) // 2
    canvas.paste(small, (left, top))
    x = np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x[None])


def decode_boxes(
    regressors: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    min_score: float = MIN_SCORE,
) -> list[tuple[float, float, float, float, float]]:
    """(score, x0, y0, x1, y1) in the 224 square's 0..1 units, one per upright person (best first)."""
    anchors = _anchors()
    keep = np.flatnonzero(scores >= min_score)
    found: list[tuple[float, float, float, float, float]] = []
    for i in keep[np.argsort(-scores[keep])]:
        if not upright(regressors[i]):
            continue
        cx = float(regressors[i, 0]) / _SIZE + float(anchors[i, 0])
        cy = float(regressors[i, 1]) / _SIZE + float(anchors[i, 1])
        bw, bh = float(regressors[i, 2]) / _SIZE, float(regressors[i, 3]) / _SIZE
        box = (float(scores[i]), cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        if all(_iou(box, kept) <= _SAME_PERSON_IOU for kept in found):
            found.append(box)
    return found


def upright(regressor: npt.NDArray[np.float32]) -> bool:
    """Whether the body axis points up, within 45° of vertical.

    Besides the box, the detector gives 4 keypoints; MediaPipe turns the vector from the first (the
    middle of the hips) to the second (a point along the body that sets its size and rotation)
    into the person's rotation. The detector also fires on animals, tools and planes seen side-on:
    at MIN_SCORE, 46 of tuxpaint's 796 stamps, about 39 of them no person; on most of those the
    "body" lies on its side or points down, while people in photos mostly stand or sit. With this
    rule 15 stamps fire, 8 of them no person (birds, a gorilla, a violin). Lying people are missed:
    no tag rather than a wrong one.
    """
    hip_x, hip_y, top_x, top_y = (float(v) for v in regressor[4:8])
    return hip_y - top_y > abs(hip_x - top_x)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    iy = max(0.0, min(a[4], b[4]) - max(a[2], b[2]))
    inter = ix * iy
    union = (a[3] - a[1]) * (a[4] - a[2]) + (b[3] - b[1]) * (b[4] - b[2]) - inter
    return inter / union if union > 0 else 0.0


class BodyDetector:
    """Counts people with BlazePose's detector; ``count`` is safe from many threads."""

    def __init__(self) -> None:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

        path = _model_path()
        if path is None:
            raise OSError("mediapipe's pose_detection.tflite is not installed (requirements/extra.txt)")
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = {tuple(o["shape"]): o["index"] for o in self.interpreter.get_output_details()}
        self._boxes, self._scores = outputs[(1, 2254, 12)], outputs[(1, 2254, 1)]
        if len(_anchors()) != 2254:
            raise OSError("pose_detection.tflite does not have the expected 2254 anchors")
        self._lock = threading.Lock()  # one interpreter holds one set of tensors

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[tuple[float, float, float, float, float]]:
        x = letterbox(rgb)
        with self._lock:
            self.interpreter.set_tensor(self._input, x)
            self.interpreter.invoke()
            regressors = np.array(self.interpreter.get_tensor(self._boxes)[0])
            logits = np.array(self.interpreter.get_tensor(self._scores)[0, :, 0], dtype=np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))  # float64: no overflow at -100
        return decode_boxes(regressors, scores.astype(np.float32))

    def count(self, rgb: npt.NDArray[np.uint8], *, doubt: float = 0.0) -> int:
        """People found; ``doubt`` is the classifier's share for "an animal or a sign" (0..1)."""
        found = self.detect(rgb)
        if doubt >= DOUBT_SHARE:
            found = [box for box in found if box[0] >= SURE_SCORE]
        return len(found)


class FaceCounter:
    """Counts faces with YuNet (the ``yuface`` wheel, BSD-3); ``count`` is safe from many threads.

    Frontal and turned faces down to about 15 px; the face-recognition stage (faces.py) runs the
    same detector larger, in its own process, to describe the faces.
    """

    def __init__(self) -> None:
        import os

        # As in faces.py: YuNet's private OpenMP reads this at import; one thread is faster here.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import yuface

        self._detect = yuface.detect
        self._lock = threading.Lock()

    def scores(self, rgb: npt.NDArray[np.uint8]) -> list[float]:
        """The faces' scores (0..1, best first) from MIN_FACE_SCORE on."""
        h, w = rgb.shape[:2]
        scale = min(1.0, FACE_SIDE / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            confs, _, _ = self._detect(bgr, conf=MIN_FACE_SCORE)
        return sorted((float(c) / 100 for c in confs), reverse=True)

    def count(self, rgb: npt.NDArray[np.uint8], *, doubt: float = 0.0) -> int:
        """Faces found; ``doubt`` is the classifier's share for "an animal or a sign" (0..1)."""
        found = self.scores(rgb)
        if doubt >= DOUBT_SHARE:
            found = [s for s in found if s >= SURE_FACE_SCORE]
        return len(found)
