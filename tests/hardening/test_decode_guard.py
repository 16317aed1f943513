"""Decode guard: big decodes are bounded in number and in wall time, so they cannot hold every thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from imagerepo.adapters.pillow_inspector import DecodeGate, PillowImageInspector
from imagerepo.domain.errors import InvalidImage, ServiceUnavailable
from imagerepo.entrypoints.app import create_app
from imagerepo.entrypoints.container import Settings, memory_container
from tests import images as img
from tests.hardening.support import assert_consistent, error_code, signup, upload


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


def test_a_decode_over_its_time_budget_is_abandoned_as_invalid(huge_png: Path) -> None:
    inspector = PillowImageInspector(decode_seconds=0.2, gate=DecodeGate(2))
    for step in (inspector.inspect, inspector.thumbnail):
        started = time.perf_counter()
        with pytest.raises(InvalidImage, match="too long to decode"):
            step(huge_png)
        # Abandoned at the next block Pillow reads, not after the whole decode.
        assert time.perf_counter() - started < 0.8


def test_big_decodes_are_bounded_and_small_images_never_wait_for_them(huge_png: Path, small_jpeg: Path) -> None:
    gate = DecodeGate(max_concurrent=2, wait_seconds=60)
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
    deadline = time.monotonic() + 10
    while gate.active < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert gate.active == 2  # the other three queue instead of decoding
    started = time.perf_counter()
    assert inspector.inspect(small_jpeg).width > 0
    small_took = time.perf_counter() - started
    busy_meanwhile = gate.active
    for t in threads:
        t.join()
    assert results == [9000] * 5
    assert gate.peak == 2
    print(f"small image inspected in {small_took * 1000:.0f} ms while {busy_meanwhile} big decodes ran")
    assert small_took < 0.5


def test_when_the_queue_is_full_a_big_upload_is_refused_as_busy_without_holding_a_thread(
    huge_png: Path,
) -> None:
    gate = DecodeGate(max_concurrent=1, wait_seconds=0.1)
    inspector = PillowImageInspector(gate=gate)
    outcomes: list[str] = []
    held: list[float] = []

    def big() -> None:
        started = time.perf_counter()
        try:
            inspector.inspect(huge_png)
            outcomes.append("done")
        except ServiceUnavailable:
            outcomes.append("busy")
        held.append(time.perf_counter() - started)

    threads = [threading.Thread(target=big) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("done") >= 1
    assert "busy" in outcomes
    assert gate.peak == 1
    # A refused request gave its thread back after the short wait, not after someone else's decode.
    assert sorted(held)[0] < 0.5


def test_an_upload_that_decodes_too_slowly_is_a_clear_422_and_stores_nothing(tmp_path: Path, huge_png: Path) -> None:
    inspector = PillowImageInspector(decode_seconds=0.2, gate=DecodeGate(2))
    container = memory_container(Settings(data_dir=tmp_path, workers=0), inspector=inspector)
    with TestClient(create_app(container)) as client:
        auth = signup(client, "alice")
        r = upload(client, auth, huge_png.read_bytes(), name="huge.png", ctype="image/png")
        assert r.status_code == 422, r.text
        assert error_code(r) == "invalid_image"
        assert assert_consistent(client, auth, container.blob_store()) == []
