"""open_nsfw in int8: built once from the bundled float model and committed ranges, then cached.

The NSFW network (a ResNet-50) is the second costliest stage. Static int8 quantization (QDQ,
weights per channel, activations uint8) lets onnxruntime use the CPU's 8-bit dot products (VNNI):
about half the CPU of the float model. The activation ranges were measured once, on the
development photos of bench/quality_labels.json only (``scripts/calibrate_nsfw.py``), and are
committed (``data/open_nsfw_int8_ranges.json``); the last layers (pooling, the classifier and
the softmax) stay in float, so the score itself is never rounded to 8 bits.

Building takes a few seconds, so the result is kept in the user's cache directory
(``$XDG_CACHE_HOME/imagerepo``, else ``~/.cache/imagerepo``) under a name derived from everything
it depends on (the float model, the ranges, onnxruntime's version): built by the first process
that needs it, written atomically, read by every other. Where that directory cannot be written,
each process builds it in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RANGES = Path(__file__).with_name("data") / "open_nsfw_int8_ranges.json"
# Left in float: global pooling, the flattening, the classifier and its softmax.
FLOAT_NODES = ("pool/AvgPool", "pool/AvgPool__437", "Reshape", "fc_nsfw/MatMul", "fc_nsfw/BiasAdd", "predictions")
# Raised when the format of the built model changes, so older cached files are not read.
_BUILD = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imagerepo"


def _float_model(source: bytes) -> Any:
    """The float model at opset 13 (per-channel DequantizeLinear needs it; the file is opset 9)."""
    import onnx
    from onnx import version_converter

    model = onnx.load_from_string(source)
    if model.opset_import[0].version < 13:
        model = version_converter.convert_version(model, 13)
    return model


def quantize(source: bytes, ranges: dict[str, tuple[float, float]]) -> bytes:
    """The int8 model: ``source`` (the float model's bytes) quantized with the given activation ranges."""
    data = {name: (np.float32(lo), np.float32(hi)) for name, (lo, hi) in ranges.items()}
    root = logging.getLogger()
    root.addFilter(_quiet_quantizer)  # its advice (pre-processing, one bias's scale) is for interactive use
    try:
        return _quantize(source, data)
    finally:
        root.removeFilter(_quiet_quantizer)


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    return "onnxruntime" not in record.pathname


def _quantize(source: bytes, data: dict[str, tuple[np.float32, np.float32]]) -> bytes:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

    with tempfile.TemporaryDirectory(prefix="imagerepo-int8-") as tmp:
        table, out = Path(tmp) / "ranges.json", Path(tmp) / "model.onnx"
        save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), table)
        quantize_static(
            _float_model(source),
            out,
            None,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(FLOAT_NODES),
            calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=table,
        )
        return out.read_bytes()


def calibrate(source: bytes, inputs: Iterable[npt.NDArray[np.float32]], percentile: float) -> dict[str, list[float]]:
    """Activation ranges of the float model over ``inputs`` (for scripts/calibrate_nsfw.py)."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, create_calibrator

    model = _float_model(source)
    name = model.graph.input[0].name
    feeds = iter([{name: x} for x in inputs])

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            return next(feeds, None)

    with tempfile.TemporaryDirectory(prefix="imagerepo-calibrate-") as tmp:
        path = Path(tmp) / "float.onnx"
        path.write_bytes(model.SerializeToString())
        calibrator = create_calibrator(
            path,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"percentile": percentile},
        )
        calibrator.collect_data(Reader())
        found = calibrator.compute_data()
    return {k: [float(v.range_value[0]), float(v.range_value[1])] for k, v in sorted(found.data.items())}


def load_ranges(path: Path = RANGES) -> tuple[dict[str, tuple[float, float]], str]:
    """The committed ranges and the sha256 of the float model they were measured on."""
    raw = json.loads(path.read_text())
    return {k: (float(v[0]), float(v[1])) for k, v in raw["ranges"].items()}, str(raw["source_sha256"])


def cached_model(
    source: bytes, *, ranges_path: Path = RANGES, directory: Path | None = None, rebuild: bool = False
) -> bytes:
    """The int8 model for ``source``, from the cache when built before (see the module docstring).

    ``rebuild`` builds it again, replacing the cached file. Raises ValueError when the ranges
    were measured on another float model than ``source``.
    """
    import onnxruntime

    ranges, expected = load_ranges(ranges_path)
    source_sha = hashlib.sha256(source).hexdigest()
    if source_sha != expected:
        raise ValueError(f"the int8 ranges were measured on model {expected[:12]}, not {source_sha[:12]}")
    key = hashlib.sha256(
        b"\0".join(
            [source_sha.encode(), ranges_path.read_bytes(), onnxruntime.__version__.encode(), str(_BUILD).encode()]
        )
    ).hexdigest()[:24]
    folder = directory if directory is not None else cache_dir()
    path = folder / f"open-nsfw-int8-{key}.onnx"
    if not rebuild:
        try:
            return path.read_bytes()
        except OSError:
            pass
    built = quantize(source, ranges)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".open-nsfw-int8-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(built)
        os.replace(tmp, path)  # atomic: a process reading it sees the old state or the whole file
    except OSError:
        pass  # not writable: this process keeps its own build
    return built
