"""Decode guard: big decodes are bounded in number and in wall time, so they cannot hold every thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from imagerepo.adapters import pillow_inspector
from imagerepo.adapters.pillow_inspector import DecodeGate, PillowImageInspector
from imagerepo.domain.errors import InvalidImage, ServiceUnavailable
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import assert_consistent, error_code, signup, upload
from tests.wiring import memory_container


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """81 megapixels in about 250 KB: about a second of one core to decode here."""
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    Image.new("RGB", (9000, 9000), (10, 200, 30)).save(path)
    return path


@pytest.fixture
def small_jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "small.jpg"
    path.write_bytes(img.jpeg())
    return path


class ReadClock:
    """Stands in for the inspector's clock: one second passes per reading of the clock, and the
    inspector reads it once per block it reads, so a budget of N seconds is N blocks, on any
    machine however loaded. Records each block read: how many bytes, or that it was refused."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.reads: list[int | str] = []
        real_read = pillow_inspector._DeadlineFile.read

        def read(fp: Any, size: int | None = -1, /) -> bytes:
            try:
                data = real_read(fp, size)
            except InvalidImage:
                self.reads.append("refused")
                raise
            self.reads.append(len(data))
            return data

        monkeypatch.setattr(pillow_inspector, "time", self)
        monkeypatch.setattr(pillow_inspector._DeadlineFile, "read", read)

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_a_decode_over_its_time_budget_is_abandoned_as_invalid(
    huge_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ReadClock(monkeypatch)
    inspector = PillowImageInspector(decode_seconds=2.5, gate=DecodeGate(2))
    for step in (inspector.inspect, inspector.thumbnail):
        clock.reads.clear()
        with pytest.raises(InvalidImage, match="too long to decode"):
            step(huge_png)
        # Abandoned at the first block read past the budget: nothing read after it, and most of
        # the file never read at all (the decode stopped instead of running on).
        assert clock.reads[-1] == "refused"
        assert clock.reads.count("refused") == 1
        assert sum(n for n in clock.reads if isinstance(n, int)) < huge_png.stat().st_size / 2


def test_big_decodes_are_bounded(huge_png: Path) -> None:
    gate = DecodeGate(max_concurrent=2, wait_seconds=600)
    inspector = PillowImageInspector(big_pixels=16_000_000, gate=gate)
    results: list[Any] = []

    def big() -> None:
        try:
            results.append(inspector.inspect(huge_png).width)
        except Exception as e:  # collected and asserted below
            results.append(e)

    threads = [threading.Thread(target=big) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [9000] * 5
    assert gate.peak <= 2  # the others queued instead of decoding


def test_small_images_never_wait_for_big_decodes(small_jpeg: Path) -> None:
    gate = DecodeGate(max_concurrent=2, wait_seconds=0)  # a decode that asked for a slot now would be refused
    inspector = PillowImageInspector(big_pixels=16_000_000, gate=gate)
    with gate.slot(), gate.slot():  # two big decodes hold every slot
        assert inspector.inspect(small_jpeg).width > 0
        assert inspector.thumbnail(small_jpeg).data
    assert gate.peak == 2


def test_when_the_queue_is_full_a_big_upload_is_refused_as_busy_without_holding_a_thread(
    huge_png: Path,
) -> None:
    gate = DecodeGate(max_concurrent=1, wait_seconds=0.1)
    inspector = PillowImageInspector(gate=gate)
    # Someone else's big decode holds the only slot and never lets go meanwhile: the upload is
    # answered while that decode still runs, so its thread came back after the short wait.
    with gate.slot(), pytest.raises(ServiceUnavailable, match="Too many large images"):
        inspector.inspect(huge_png)
    assert gate.peak == 1
    assert inspector.inspect(huge_png).width == 9000  # once the slot is free, it decodes


def test_an_upload_that_decodes_too_slowly_is_a_clear_422_and_stores_nothing(tmp_path: Path, huge_png: Path) -> None:
    inspector = PillowImageInspector(decode_seconds=0.2, gate=DecodeGate(2))
    container = memory_container(Settings(data_dir=tmp_path, workers=0), inspector=inspector)
    with TestClient(create_app(container)) as client:
        auth = signup(client, "alice")
        r = upload(client, auth, huge_png.read_bytes(), name="huge.png", ctype="image/png")
        assert r.status_code == 422, r.text
        assert error_code(r) == "invalid_image"
        assert assert_consistent(client, auth, container.blob_store()) == []
