"""AnalysisQueue contract: claims, leases, retries and superseded results, the same on the fake,
SQLite and PostgreSQL. Jobs come from images stored through the ImageRepository of the same store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from imagerepo.domain.images import AnalysisStatus
from imagerepo.domain.queries import build_query
from imagerepo.ports.analysis_queue import AnalysisQueue
from tests.contract.test_image_repository import T0, done, hammer, ids, image, stored


def test_fits_the_port(analysis_queue: Any) -> None:
    assert isinstance(analysis_queue, AnalysisQueue)


def test_claim_takes_pending_ready_images_once(image_repo: Any, analysis_queue: Any) -> None:
    img = stored(image_repo, image())
    image_repo.reserve(image(), 10)  # uploading: not yet analysable
    assert analysis_queue.pending_analyses() == 1
    job = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    assert job is not None
    assert job.image == img
    assert job.attempts == 1
    assert analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5)) is None


def test_complete_makes_the_analysis_searchable(image_repo: Any, analysis_queue: Any) -> None:
    img = stored(image_repo, image())
    job = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    result = done("a brown dog on the beach", ("Dog", "beach"), (("#8c501e", 0.6),), "Ahoy")
    assert analysis_queue.complete_analysis(job, result)
    assert image_repo.get("alice", img.id).analysis == result
    assert analysis_queue.pending_analyses() == 0
    assert ids(image_repo.search(build_query("alice", q="dogs ahoy", tags=["dog"], color="#8a4f20"))) == [
        img.id
    ]
    assert analysis_queue.claim_analysis(T0 + timedelta(hours=1), T0 + timedelta(hours=2)) is None


def test_new_generation_supersedes_a_running_job(image_repo: Any, analysis_queue: Any) -> None:
    img = stored(image_repo, image(analysis=done("cat", ("cat",))))
    assert analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5)) is None  # already done
    again = image_repo.request_analysis("alice", img.id, T0)
    assert again.analysis.status == AnalysisStatus.PENDING
    assert ids(image_repo.search(build_query("alice", tags=["cat"]))) == []  # old tags no longer match
    old = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    image_repo.request_analysis("alice", img.id, T0 + timedelta(seconds=1))
    assert not analysis_queue.complete_analysis(old, done("stale"))
    assert not analysis_queue.retry_analysis(old, T0, "stale")
    assert image_repo.get("alice", img.id).analysis.status == AnalysisStatus.PENDING
    new = analysis_queue.claim_analysis(T0 + timedelta(seconds=2), T0 + timedelta(minutes=5))
    assert new.generation > old.generation
    assert new.attempts == 1
    assert analysis_queue.complete_analysis(new, done("fresh"))


def test_an_expired_lease_lets_another_worker_take_the_job(image_repo: Any, analysis_queue: Any) -> None:
    stored(image_repo, image())
    first = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    assert analysis_queue.claim_analysis(T0 + timedelta(minutes=4), T0 + timedelta(minutes=9)) is None
    second = analysis_queue.claim_analysis(T0 + timedelta(minutes=5), T0 + timedelta(minutes=10))
    assert second is not None
    assert second.image.id == first.image.id
    assert second.attempts == 2


def test_retry_waits_until_due_and_keeps_the_reason(image_repo: Any, analysis_queue: Any) -> None:
    img = stored(image_repo, image())
    job = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    assert analysis_queue.retry_analysis(job, T0 + timedelta(seconds=30), "busy, retry later")
    assert image_repo.get("alice", img.id).analysis.error == "busy, retry later"
    assert analysis_queue.claim_analysis(T0 + timedelta(seconds=29), T0 + timedelta(minutes=5)) is None
    again = analysis_queue.claim_analysis(T0 + timedelta(seconds=30), T0 + timedelta(minutes=5))
    assert again.attempts == 2
    assert again.generation == job.generation


def test_deleted_image_result_is_dropped(image_repo: Any, analysis_queue: Any) -> None:
    img = stored(image_repo, image())
    job = analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))
    image_repo.begin_delete("alice", img.id)
    assert not analysis_queue.complete_analysis(job, done("late"))
    assert analysis_queue.pending_analyses() == 0


def test_concurrent_claimers_never_share_a_job(image_repo: Any, analysis_queue: Any) -> None:
    made = {stored(image_repo, image(f"owner{i % 3}")).id for i in range(12)}

    def drain(_: int) -> list[str]:
        got = []
        while (job := analysis_queue.claim_analysis(T0, T0 + timedelta(minutes=5))) is not None:
            got.append(job.image.id)
        return got

    results = hammer(4, drain)
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(made)
