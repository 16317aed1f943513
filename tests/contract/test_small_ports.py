"""Contract suites of the small ports, each run over its fake and its real adapters."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagerepo.adapters.memory import (
    FakeImageAnalyzer,
    FakeImageInspector,
    FastPasswordHasher,
    ManualClock,
    RecordingScheduler,
)
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.adapters.system import Argon2PasswordHasher, SystemClock
from imagerepo.adapters.worker import NullScheduler, ThreadAnalysisWorker
from imagerepo.domain.errors import UnsupportedMediaType
from imagerepo.domain.images import AnalysisResult
from imagerepo.ports.analysis_scheduler import AnalysisScheduler
from imagerepo.ports.clock import Clock
from imagerepo.ports.image_analyzer import ImageAnalyzer
from imagerepo.ports.image_inspector import ImageInspector
from imagerepo.ports.password_hasher import PasswordHasher
from tests import images as img

# ------------------------------------------------------------------ Clock


@pytest.fixture(params=["manual", "system"])
def clock(request: pytest.FixtureRequest) -> Any:
    return ManualClock() if request.param == "manual" else SystemClock()


def test_clock_is_aware_utc_and_never_goes_back(clock: Any) -> None:
    assert isinstance(clock, Clock)
    times = [clock.now() for _ in range(50)]
    assert all(t.tzinfo is not None and t.utcoffset() == UTC.utcoffset(None) for t in times)
    assert times == sorted(times)


def test_clock_sleep_lets_at_least_that_much_time_pass(clock: Any) -> None:
    before = clock.now()
    clock.sleep(0.02)
    assert clock.now() - before >= timedelta(seconds=0.02)  # a lower bound: sleep never waits less


# ------------------------------------------------------------------ PasswordHasher


@pytest.fixture(params=["fast", "argon2"])
def hasher(request: pytest.FixtureRequest) -> Any:
    if request.param == "fast":
        return FastPasswordHasher()
    return Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)


def test_hasher_verifies_only_the_right_password(hasher: Any) -> None:
    assert isinstance(hasher, PasswordHasher)
    h = hasher.hash("correct horse ✓")
    assert "correct horse" not in h
    assert hasher.verify(h, "correct horse ✓")
    assert not hasher.verify(h, "correct horse")
    assert not hasher.verify("not a hash", "correct horse ✓")
    assert hasher.hash("correct horse ✓") != h  # salted
    assert not hasher.needs_rehash(h)
    hasher.dummy_verify("anything")


def test_argon2_asks_for_a_rehash_when_parameters_change() -> None:
    old = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1).hash("pw")
    assert old.startswith("$argon2id$")
    assert Argon2PasswordHasher(time_cost=2, memory_cost_kib=8192, parallelism=1).needs_rehash(old)


# ------------------------------------------------------------------ ImageInspector


@pytest.fixture(params=["fake", "pillow"])
def inspector(request: pytest.FixtureRequest) -> Any:
    return FakeImageInspector() if request.param == "fake" else PillowImageInspector()


def test_inspector_judges_bytes_not_names(inspector: Any, tmp_path: Path) -> None:
    assert isinstance(inspector, ImageInspector)
    data = img.png((31, 17))
    path = tmp_path / "photo.jpg"  # the name lies
    path.write_bytes(data)
    info = inspector.inspect(path)
    assert info.content_type == "image/png"
    assert (info.width, info.height, info.size_bytes) == (31, 17, len(data))
    with inspector.open(path) as f:
        assert f.read() == data
    thumb = inspector.thumbnail(path)
    assert thumb.data
    assert thumb.content_type.startswith("image/")


def test_inspector_hashes_the_file_unless_handed_its_hash(inspector: Any, tmp_path: Path) -> None:
    data = img.png((31, 17))
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    assert inspector.inspect(path).sha256 == hashlib.sha256(data).hexdigest()
    handed = inspector.inspect(path, sha256="ab" * 32)  # as the writer of the file computed it
    assert (handed.sha256, handed.size_bytes, handed.width) == ("ab" * 32, len(data), 31)


@pytest.mark.parametrize("data", [b"", img.TEXT, img.SVG, img.PDF])
def test_inspector_refuses_what_is_not_a_raster_image(inspector: Any, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(data)
    with pytest.raises(UnsupportedMediaType):
        inspector.inspect(path)


# ------------------------------------------------------------------ ImageAnalyzer


def _azure() -> Any:
    from imagerepo.adapters.azure import AzureVisionAnalyzer

    body = (Path(__file__).parents[1] / "unit" / "azure_payloads").glob("v3.2_analyze*200.json")
    payload = next(iter(body)).read_bytes()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=payload,
                                                                   headers={"content-type": "application/json"}))
    return AzureVisionAnalyzer(httpx.Client(transport=transport), "https://example.invalid", "k" * 32,
                               sleep=lambda s: None)


@pytest.fixture(params=["fake", "local", "azure"])
def analyzer(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeImageAnalyzer()
    if request.param == "local":
        from imagerepo.adapters.local import LocalImageAnalyzer

        return LocalImageAnalyzer(models=False)
    return _azure()


@pytest.mark.parametrize("preview", [False, True], ids=["alone", "with-preview"])
def test_analyzer_describes_an_image_in_the_domains_terms(analyzer: Any, preview: bool) -> None:
    """With a preview (a smaller rendering of the same picture, as the stored thumbnail) or without."""
    assert isinstance(analyzer, ImageAnalyzer)
    original = img.jpeg((2000, 1500), (200, 40, 40))
    small = img.jpeg((480, 360), (200, 40, 40)) if preview else None
    result = analyzer.analyze(original, "image/jpeg", preview=small)
    assert isinstance(result, AnalysisResult)
    assert result.analyzer == analyzer.name
    assert result.description
    assert all(0.0 <= t.confidence <= 1.0 for t in result.tags)
    assert all(c.hex.startswith("#") and len(c.hex) == 7 for c in result.colors)
    assert sum(c.fraction for c in result.colors) <= 1.0 + 1e-6
    if "width" in result.extra:  # the original's size, not the preview's
        assert (result.extra["width"], result.extra["height"]) == (2000, 1500)


# ------------------------------------------------------------------ AnalysisScheduler


class _BusyWork:
    """A job that runs until released: the worker is busy while the test calls notify."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.release = threading.Event()

    def run_once(self) -> bool:
        self.running.set()
        self.release.wait(60)
        return False


@pytest.fixture(params=["recording", "null", "threads"])
def scheduler(request: pytest.FixtureRequest) -> Any:
    if request.param == "recording":
        yield RecordingScheduler()
    elif request.param == "null":
        yield NullScheduler()
    else:
        work = _BusyWork()
        worker = ThreadAnalysisWorker(work, concurrency=1, poll_seconds=30)  # type: ignore[arg-type]
        worker.start()
        assert work.running.wait(30)
        yield worker
        work.release.set()
        worker.stop()


def test_notify_never_blocks_or_fails(scheduler: Any) -> None:
    """An upload calls notify: it must return even while every worker is busy with a job."""
    assert isinstance(scheduler, AnalysisScheduler)
    finished = threading.Event()

    def notify_many() -> None:
        for _ in range(1000):
            scheduler.notify()
        finished.set()

    threading.Thread(target=notify_many, daemon=True).start()
    assert finished.wait(30), "notify blocked"


def test_analyzer_contract_holds_across_the_process_boundary() -> None:
    """The `local` analyzer behind ProcessImageAnalyzer, as the container wires it, keeps the contract."""
    import functools

    from imagerepo.adapters.local import LocalImageAnalyzer
    from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer

    analyzer = ProcessImageAnalyzer(functools.partial(LocalImageAnalyzer, models=False), name="local", processes=1)
    try:
        for preview in (False, True):
            test_analyzer_describes_an_image_in_the_domains_terms(analyzer, preview)
        assert analyzer.pids()
    finally:
        analyzer.close()
