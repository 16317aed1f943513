"""The faster model builds: open_nsfw in int8 (built once, cached) and the simplified text detector."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from pathlib import Path

import numpy as np
import pytest

from imagerepo.adapters.local import int8
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.local.text_graph import simplify
from tests.photos import TUXPAINT, gcompris_photo, package_photo, png

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def scorers(tmp_path_factory: pytest.TempPathFactory) -> tuple[m.NsfwScorer, m.NsfwScorer]:
    return m.NsfwScorer(cache=tmp_path_factory.mktemp("cache")), m.NsfwScorer(int8=False)


def development_photos() -> list[bytes]:
    """Every photo of bench/quality_labels.json (the ranges were measured on its first 76)."""
    labels = json.loads((Path(__file__).parents[2] / "bench" / "quality_labels.json").read_text())
    photos = []
    for photo in labels["photos"]:
        source = labels["sources"][photo["package"]]
        if source["kind"] == "python":
            package, _, sub = source["root"].partition("/")
            photos.append(importlib.resources.files(package).joinpath(sub, photo["path"]).read_bytes())
        elif source["kind"] == "qt-resource":  # added after the ranges were measured: unseen by them
            photos.append(gcompris_photo(photo["path"]))
        else:
            photos.append(package_photo(Path(source["root"]) / photo["path"]))
    return photos


@pytest.mark.slow
def test_the_int8_nsfw_model_scores_the_development_photos_as_the_float_model_does(
    scorers: tuple[m.NsfwScorer, m.NsfwScorer],
) -> None:
    quantized, exact = scorers
    photos = development_photos()
    assert len(photos) >= 76
    for data in photos:
        rgb = decode(data).rgb
        a, b = exact.score(rgb), quantized.score(rgb)
        assert abs(a - b) < 0.06, (a, b)
        assert (a >= 0.5) == (b >= 0.5)


@pytest.mark.slow
def test_the_int8_model_is_built_once_then_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = m.NsfwScorer(cache=tmp_path)
    files = list(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".onnx"]  # one file, no temporary left behind
    stamp = files[0].stat().st_mtime_ns

    def no_build(*args: object) -> bytes:
        raise AssertionError("built again")

    monkeypatch.setattr(int8, "quantize", no_build)
    second = m.NsfwScorer(cache=tmp_path)
    assert list(tmp_path.iterdir()) == files
    assert files[0].stat().st_mtime_ns == stamp
    rgb = decode(png(skimage_data.chelsea())).rgb
    assert first.score(rgb) == second.score(rgb)


@pytest.mark.slow
def test_a_damaged_cache_file_is_built_again(tmp_path: Path) -> None:
    m.NsfwScorer(cache=tmp_path)
    (cached,) = tmp_path.iterdir()
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 3])
    scorer = m.NsfwScorer(cache=tmp_path)
    assert 0.0 <= scorer.score(decode(png(skimage_data.coffee())).rgb) < 0.1
    assert cached.read_bytes() == good


@pytest.mark.slow
def test_a_cache_directory_that_cannot_be_written_only_costs_the_build(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    scorer = m.NsfwScorer(cache=blocked / "cache")  # under a file: never creatable, even as root
    assert 0.0 <= scorer.score(decode(png(skimage_data.coffee())).rgb) < 0.1


def test_the_committed_ranges_are_for_the_installed_model_and_only_development_photos() -> None:
    ranges, sha = int8.load_ranges()
    assert sha == hashlib.sha256(m.nsfw_model_bytes()).hexdigest()
    assert len(ranges) > 100
    assert all(lo <= hi for lo, hi in ranges.values())
    assert "bench/quality_labels.json" in json.loads(int8.RANGES.read_text())["about"]


def test_ranges_measured_on_another_model_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="measured on model"):
        int8.cached_model(m.nsfw_model_bytes() + b"\0", directory=tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_cache_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert int8.cache_dir() == tmp_path / "imagerepo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert int8.cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "imagerepo"


def _sessions(name: str) -> tuple[object, object]:
    import onnxruntime as ort

    source = importlib.resources.files("rapidocr_onnxruntime").joinpath("models", name).read_bytes()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return (
        ort.InferenceSession(source, options, providers=["CPUExecutionProvider"]),
        ort.InferenceSession(simplify(source), options, providers=["CPUExecutionProvider"]),
    )


@pytest.mark.slow
def test_the_simplified_text_detector_gives_the_same_map_on_real_photos() -> None:
    import onnx

    original, simplified = _sessions(m.DETECTOR_MODEL)
    source = importlib.resources.files("rapidocr_onnxruntime").joinpath("models", m.DETECTOR_MODEL).read_bytes()
    ops = [n.op_type for n in onnx.load_from_string(simplify(source)).graph.node]
    assert "HardSigmoid" in ops
    assert "Div" not in ops
    assert "Clip" not in ops
    assert len(ops) < len(onnx.load_from_string(source).graph.node) / 2
    photos = [png(skimage_data.page()), png(skimage_data.coffee()), package_photo(TUXPAINT / "town/roadsigns/stop.png")]
    for data in photos:
        rgb = decode(data).rgb[:320, :320]
        h, w = (rgb.shape[0] // 32) * 32, (rgb.shape[1] // 32) * 32
        x = np.ascontiguousarray(rgb[:h, :w, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) * (2 / 255) - 1
        a = original.run(None, {"x": x})[0]  # type: ignore[attr-defined]
        b = simplified.run(None, {"x": x})[0]  # type: ignore[attr-defined]
        assert np.abs(a - b).max() < 1e-3
        assert ((a > 0.3) == (b > 0.3)).all()


@pytest.mark.slow
def test_the_simplified_text_recognizer_reads_the_same_characters() -> None:
    import cv2

    original, simplified = _sessions(m.RECOGNIZER_MODEL)
    page = decode(png(skimage_data.page())).rgb
    strips = [page[y : y + 32, 0:300] for y in (10, 60, 120)]  # lines of printed text
    x = np.stack([cv2.resize(strip, (320, 48))[:, :, ::-1].transpose(2, 0, 1) for strip in strips])
    x = np.ascontiguousarray(x, dtype=np.float32) * (2 / 255) - 1
    a = original.run(None, {"x": x})[0]  # type: ignore[attr-defined]
    b = simplified.run(None, {"x": x})[0]  # type: ignore[attr-defined]
    assert np.abs(a - b).max() < 1e-3
    assert (a.argmax(axis=-1) == b.argmax(axis=-1)).all()
    assert (a.argmax(axis=-1) > 0).any()  # characters were read, not only blanks


@pytest.mark.slow
def test_an_upgrade_of_onnxruntime_or_new_ranges_build_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    source = m.nsfw_model_bytes()
    int8.cached_model(source, directory=tmp_path)
    ranges = tmp_path / "ranges.json"
    ranges.write_text(int8.RANGES.read_text().replace('"about": "', '"about": "re-measured: '))
    int8.cached_model(source, directory=tmp_path, ranges_path=ranges)
    monkeypatch.setattr(onnxruntime, "__version__", onnxruntime.__version__ + ".post1")
    int8.cached_model(source, directory=tmp_path)
    assert len(list(tmp_path.glob("open-nsfw-int8-*.onnx"))) == 3


def _tiny_model(*, affine_is_output: bool) -> bytes:
    """conv 3×3 -> x*a+b -> hard-swish in four operators -> x*a+b -> conv 1×1 (the detector's pattern)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def const(name: str, value: np.ndarray) -> object:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value.astype(np.float32), name))

    nodes = [
        const("w1", rng.normal(size=(4, 3, 3, 3))),
        const("b1", rng.normal(size=4)),
        const("a1", np.array([1.7])),
        const("c1", np.array([-0.3])),
        const("three", np.array(3.0)),
        const("zero", np.array(0.0)),
        const("six", np.array(6.0)),
        const("a2", np.array([0.8])),
        const("c2", np.array([0.25])),
        const("w2", rng.normal(size=(5, 4, 1, 1))),
        const("b2", rng.normal(size=5)),
        helper.make_node("Conv", ["x", "w1", "b1"], ["y1"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["a1", "y1"], ["m1"]),
        helper.make_node("Add", ["m1", "c1"], ["z1"]),
        helper.make_node("Add", ["z1", "three"], ["p"]),
        helper.make_node("Clip", ["p", "zero", "six"], ["q"]),
        helper.make_node("Mul", ["z1", "q"], ["r"]),
        helper.make_node("Div", ["r", "six"], ["h"]),
        helper.make_node("Mul", ["a2", "h"], ["m2"]),
        helper.make_node("Add", ["m2", "c2"], ["z2"]),
        helper.make_node("Conv", ["z2", "w2", "b2"], ["out"]),
    ]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
    if affine_is_output:
        outputs.append(helper.make_tensor_value_info("z1", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], outputs
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


@pytest.mark.parametrize("affine_is_output", [False, True])
def test_simplify_computes_the_same_function_with_fewer_operators(affine_is_output: bool) -> None:
    import onnx
    import onnxruntime as ort

    source = _tiny_model(affine_is_output=affine_is_output)
    simplified = simplify(source)
    ops = [n.op_type for n in onnx.load_from_string(simplified).graph.node]
    assert ops.count("Conv") == 2
    assert "Div" not in ops
    assert "Clip" not in ops
    assert ops.count("Add") == (1 if affine_is_output else 0)  # a graph output is never folded away
    x = np.random.default_rng(1).normal(size=(1, 3, 8, 8)).astype(np.float32) * 3
    a = ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    b = ort.InferenceSession(simplified, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        assert np.abs(left - right).max() < 1e-4
