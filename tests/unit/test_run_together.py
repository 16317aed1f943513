"""How the image service stores an upload's two blobs: together, and only done when both are."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from imagerepo.adapters.system import ThreadsTogether
from imagerepo.domain.images_service import RunTogether, one_after_another
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.wiring import memory_container

RUNNERS: list[RunTogether] = [one_after_another, ThreadsTogether()]


def test_the_threads_run_the_calls_at_the_same_time() -> None:
    meet = threading.Barrier(2, timeout=10)  # each call waits for the other: only overlap lets both pass
    seen: list[int] = []

    ThreadsTogether()([lambda: seen.append(meet.wait()), lambda: seen.append(meet.wait())])

    assert sorted(seen) == [0, 1]


@pytest.mark.parametrize("fails", [0, 1])
def test_a_failure_is_raised_only_after_every_call_has_ended(fails: int) -> None:
    release = threading.Event()
    ended: list[str] = []

    def slow() -> None:
        release.wait(10)
        ended.append("slow")

    def broken() -> None:
        release.set()
        raise OSError("disk full")

    calls: list[Callable[[], None]] = [broken, slow] if fails == 0 else [slow, broken]
    if fails == 1:
        release.set()  # the slow call runs in the caller's thread here: let it finish
    with pytest.raises(OSError, match="disk full"):
        ThreadsTogether()(calls)
    assert ended == ["slow"]


@pytest.mark.parametrize("runner", RUNNERS, ids=["one_after_another", "threads"])
def test_the_first_failure_in_call_order_is_the_one_raised(runner: RunTogether) -> None:
    def fail(message: str) -> Callable[[], None]:
        def call() -> None:
            raise ValueError(message)
        return call

    with pytest.raises(ValueError, match="first"):
        runner([fail("first"), fail("second")])


def test_the_service_stores_the_original_and_the_thumbnail_together(tmp_path: Path) -> None:
    c = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=5))
    blobs = c.blob_store()
    meet = threading.Barrier(2, timeout=10)
    put = blobs.put

    def put_when_both_are_writing(*args: object) -> None:
        meet.wait()  # passes only when the other blob is being written at the same time
        put(*args)  # type: ignore[arg-type]

    blobs.put = put_when_both_are_writing  # type: ignore[method-assign, assignment]
    account = c.account_service().sign_up("alice", "correct horse battery")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(img.jpeg())

    image = c.image_service().upload(account, "photo.jpg", photo)

    assert sorted(blobs.keys()) == sorted([image.original_key, image.thumbnail_key])
