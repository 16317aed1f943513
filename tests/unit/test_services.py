"""Domain services driven through the in-memory fakes."""

from __future__ import annotations

import io
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from imagerepo.adapters.memory import (
    FakeImageAnalyzer,
    FakeImageInspector,
    InMemoryBlobStore,
    InMemoryImageRepository,
    ManualClock,
    RecordingScheduler,
    png_bytes,
)
from imagerepo.domain.accounts import Account
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.errors import (
    AnalysisFailed,
    BlobMissing,
    DuplicateImage,
    InvalidCredentialsFormat,
    InvalidLogin,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    TooManyAttempts,
    Unauthenticated,
    UnsupportedMediaType,
    UsernameTaken,
    ValidationFailed,
)
from imagerepo.domain.images import AnalysisStatus, Image
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.queries import build_query
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container


class World:
    """The domain services on the in-memory fakes, wired by the composition root itself."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.tmp = tmp
        self.clock = ManualClock()
        c = memory_container(
            Settings(data_dir=tmp, workers=0, upload_quota=3, **settings),
            clock=self.clock, inspector=FakeImageInspector(), scheduler=RecordingScheduler(),
        )
        self.images_repo: InMemoryImageRepository = c.image_repository()
        self.blobs: InMemoryBlobStore = c.blob_store()
        self.scheduler: RecordingScheduler = c.scheduler()
        self.analyzer: FakeImageAnalyzer = c.analyzer()
        self.accounts: AccountService = c.account_service()
        self.images: ImageService = c.image_service()
        self.analysis: AnalysisService = c.analysis_service()
        self.n = 0

    def file(self, data: bytes) -> Path:
        self.n += 1
        p = self.tmp / f"f{self.n}"
        p.write_bytes(data)
        return p


@pytest.fixture
def w(tmp_path: Path) -> World:
    return World(tmp_path)


def test_sign_up_then_sign_in_and_out(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    issued = w.accounts.sign_in("ALICE", "correct horse")
    assert w.accounts.authenticate(issued.token)[0].id == acct.id
    w.accounts.sign_out(issued.token)
    with pytest.raises(Unauthenticated):
        w.accounts.authenticate(issued.token)


def test_sign_up_reports_every_broken_rule(w: World) -> None:
    with pytest.raises(InvalidCredentialsFormat) as e:
        w.accounts.sign_up("a!", "1234")
    assert set(e.value.details) == {"username", "password"}
    assert len(e.value.details["username"]) == 2


def test_usernames_are_unique_without_regard_to_case(w: World) -> None:
    w.accounts.sign_up("Alice", "correct horse")
    with pytest.raises(UsernameTaken):
        w.accounts.sign_up("aLICE", "other password")


def test_wrong_password_and_unknown_user_look_the_same(w: World) -> None:
    w.accounts.sign_up("alice", "correct horse")
    with pytest.raises(InvalidLogin) as a:
        w.accounts.sign_in("alice", "wrong horse")
    with pytest.raises(InvalidLogin) as b:
        w.accounts.sign_in("nobody", "wrong horse")
    assert a.value.message == b.value.message


def test_sessions_expire(w: World) -> None:
    w.accounts.sign_up("alice", "correct horse")
    issued = w.accounts.sign_in("alice", "correct horse")
    w.clock.advance(timedelta(days=8))
    with pytest.raises(Unauthenticated):
        w.accounts.authenticate(issued.token)


def test_guessing_is_throttled_then_forgiven(w: World) -> None:
    w.accounts.sign_up("alice", "correct horse")
    for _ in range(5):
        with pytest.raises(InvalidLogin):
            w.accounts.sign_in("alice", "wrong horse")
    with pytest.raises(TooManyAttempts) as e:
        w.accounts.sign_in("alice", "correct horse")
    assert e.value.retry_after > 0
    w.clock.advance(e.value.retry_after)
    assert w.accounts.sign_in("alice", "correct horse").token


def test_upload_lands_and_is_analyzed_off_the_request(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "../../etc/beach.png", w.file(png_bytes(4, 3)))
    assert (image.width, image.height, image.filename) == (4, 3, "beach.png")
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.PENDING
    assert w.scheduler.notified == 1
    assert w.analysis.run_once()
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE
    assert not w.analysis.run_once()


def test_by_default_the_analyzer_decodes_the_original_alone(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes(4, 3)))
    assert w.analysis.run_once()
    assert w.analyzer.previews == [None]
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE


def test_the_analyzer_is_given_the_stored_thumbnail_as_its_preview(tmp_path: Path) -> None:
    w = World(tmp_path, analyze_thumbnail=True)
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes(4, 3)))
    assert w.analysis.run_once()
    assert w.analyzer.previews == [w.blobs.get(image.thumbnail_key)]
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE


def test_an_image_whose_thumbnail_is_gone_is_still_analyzed(tmp_path: Path) -> None:
    w = World(tmp_path, analyze_thumbnail=True)
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes(4, 3)))
    w.blobs.delete(image.thumbnail_key)
    assert w.analysis.run_once()
    assert w.analyzer.previews == [None]
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE


def test_quota_and_duplicates(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    first = w.images.upload(acct, "a.png", w.file(png_bytes(seed=1)))
    with pytest.raises(DuplicateImage) as dup:
        w.images.upload(acct, "again.png", w.file(png_bytes(seed=1)))
    assert dup.value.existing_id == first.id
    w.images.upload(acct, "b.png", w.file(png_bytes(seed=2)))
    w.images.upload(acct, "c.png", w.file(png_bytes(seed=3)))
    with pytest.raises(QuotaExceeded) as q:
        w.images.upload(acct, "d.png", w.file(png_bytes(seed=4)))
    assert (q.value.used, q.value.limit) == (3, 3)
    w.images.delete(acct, first.id)
    w.images.upload(acct, "d.png", w.file(png_bytes(seed=4)))


def test_not_an_image_changes_nothing(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    with pytest.raises(UnsupportedMediaType):
        w.images.upload(acct, "x.jpg", w.file(b"hello, I am text"))
    assert w.images.quota(acct).used == 0
    assert list(w.blobs.keys()) == []


def test_storage_failure_leaves_no_trace(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    w.blobs.fail_puts = True
    with pytest.raises(ServiceUnavailable):
        w.images.upload(acct, "a.png", w.file(png_bytes()))
    w.blobs.fail_puts = False
    assert w.images.quota(acct).used == 0
    assert list(w.blobs.keys()) == []
    assert w.images.upload(acct, "a.png", w.file(png_bytes()))


def test_other_users_images_are_not_found(w: World) -> None:
    alice = w.accounts.sign_up("alice", "correct horse")
    bob = w.accounts.sign_up("bob", "correct horse")
    image = w.images.upload(alice, "a.png", w.file(png_bytes()))
    for action in (w.images.get, w.images.delete, w.images.reanalyze):
        with pytest.raises(NotFound):
            action(bob, image.id)
    assert w.images.search(build_query(bob.id)).items == ()


def test_failed_delete_is_finished_by_the_sweeper(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes()))
    w.blobs.fail_deletes = True
    w.images.delete(acct, image.id)
    assert w.images.quota(acct).used == 0
    assert w.blobs.exists(image.original_key)
    w.blobs.fail_deletes = False
    report = w.images.sweep()
    assert report.deletions_finished == 1
    assert list(w.blobs.keys()) == []


def test_retryable_failures_back_off_then_fail_with_reason(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes()))
    w.analyzer.fail_with = AnalysisFailed("rate limited", retryable=True, retry_after=30)
    assert w.analysis.run_once()
    assert not w.analysis.run_once()  # backing off
    for _ in range(4):
        w.clock.advance(timedelta(minutes=10))
        assert w.analysis.run_once()
    analysis = w.images.get(acct, image.id).analysis
    assert analysis.status == AnalysisStatus.FAILED
    assert "rate limited" in analysis.error


def test_a_failed_analysis_is_logged_for_the_operator_with_its_reason(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes()))
    w.analyzer.fail_with = AnalysisFailed("text stage failed: bad size", retryable=False)
    with caplog.at_level(logging.INFO, logger="imagerepo.domain.analysis_service"):
        assert w.analysis.run_once()
    [record] = [r for r in caplog.records if r.name == "imagerepo.domain.analysis_service"]
    assert record.levelno == logging.WARNING
    assert image.id in record.getMessage()
    assert "text stage failed: bad size" in record.getMessage()


def test_reanalysis_discards_a_stale_result(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes()))
    job = w.analysis.claim()
    assert job is not None
    w.images.reanalyze(acct, image.id)
    w.analysis.process(job)  # the old job finishes after the re-analysis request
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.PENDING
    assert w.analysis.run_once()
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE


def test_a_dead_workers_job_is_retried_after_its_lease(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(png_bytes()))
    assert w.analysis.claim() is not None  # this worker dies
    assert w.analysis.claim() is None
    w.clock.advance(timedelta(minutes=6))
    assert w.analysis.run_once()
    assert w.images.get(acct, image.id).analysis.status == AnalysisStatus.DONE


# ---------------------------------------------------------------- use cases the entrypoints call


def test_set_quota_changes_the_limit_and_a_bad_limit_changes_nothing(w: World) -> None:
    acct = w.accounts.sign_up("alice", "correct horse")
    acct = w.accounts.set_quota(acct, 1)
    assert w.images.quota(acct).limit == 1
    w.images.upload(acct, "a.png", w.file(png_bytes(seed=1)))
    with pytest.raises(QuotaExceeded):
        w.images.upload(acct, "b.png", w.file(png_bytes(seed=2)))
    for bad in (-1, True, "5"):
        with pytest.raises(ValidationFailed):
            w.accounts.set_quota(acct, bad)  # type: ignore[arg-type]
    assert w.images.quota(w.accounts.get(acct.id)).limit == 1
    assert w.images.quota(w.accounts.set_quota(acct, None)).limit == 3  # the deployment's default


def test_read_original_gives_the_bytes_to_their_owner_only(w: World) -> None:
    alice = w.accounts.sign_up("alice", "correct horse")
    bob = w.accounts.sign_up("bob", "correct horse")
    data = png_bytes(5, 4, seed=7)
    image = w.images.upload(alice, "a.png", w.file(data))
    assert w.images.read_original(alice, image.id) == data
    with pytest.raises(NotFound):
        w.images.read_original(bob, image.id)


def test_images_of_walks_every_page_oldest_first(w: World) -> None:
    acct = w.accounts.set_quota(w.accounts.sign_up("alice", "correct horse"), 250)
    uploaded = [w.images.upload(acct, f"{n}.png", w.file(png_bytes(seed=n))).id for n in range(205)]
    assert [i.id for i in w.images.images_of(acct)] == uploaded


def test_reanalyze_all_queues_every_image_of_the_accounts_and_wakes_the_workers_once(w: World) -> None:
    alice = w.accounts.sign_up("alice", "correct horse")
    bob = w.accounts.sign_up("bob", "correct horse")
    mine = [w.images.upload(alice, f"{n}.png", w.file(png_bytes(seed=n))) for n in range(2)]
    theirs = w.images.upload(bob, "b.png", w.file(png_bytes(seed=9)))
    w.analysis.drain()
    notified = w.scheduler.notified
    assert w.images.reanalyze_all([alice]) == 2
    assert w.scheduler.notified == notified + 1
    assert {w.images.get(alice, i.id).analysis.status for i in mine} == {AnalysisStatus.PENDING}
    assert w.images.get(bob, theirs.id).analysis.status == AnalysisStatus.DONE
    assert w.images.reanalyze_all([]) == 0
    assert w.scheduler.notified == notified + 1


def test_drain_runs_every_due_job_and_counts_the_outcomes(w: World) -> None:
    acct = w.accounts.set_quota(w.accounts.sign_up("alice", "correct horse"), 10)
    for n in range(3):
        w.images.upload(acct, f"{n}.png", w.file(png_bytes(seed=n)))
    assert w.analysis.pending() == 3
    heard: list[str] = []
    assert w.analysis.drain(max_jobs=2, on_job=heard.append) == {"done": 2}
    assert heard == ["done", "done"]
    w.analyzer.fail_with = AnalysisFailed("rate limited", retryable=True)
    assert w.analysis.drain() == {"pending": 1}  # a retry is due later, so draining stops
    assert w.analysis.pending() == 1


def reserve_unfinished(w: World, owner_id: str, sha256: str) -> Image:
    """The state a killed import leaves: a reservation (an uploading row) and its blobs."""
    image = Image(id=str(uuid.uuid4()), owner_id=owner_id, filename="x.png", content_type="image/png", width=1,
                  height=1, size_bytes=1, sha256=sha256, uploaded_at=w.clock.now())
    w.images_repo.reserve(image, 10)
    w.blobs.put(image.original_key, io.BytesIO(b"half"), "image/png")
    return image


def test_roll_back_uploads_discards_only_the_accounts_named_reservations(w: World) -> None:
    alice = w.accounts.sign_up("alice", "correct horse")
    bob = w.accounts.sign_up("bob", "correct horse")
    gone = reserve_unfinished(w, alice.id, "a" * 64)
    kept = reserve_unfinished(w, alice.id, "b" * 64)
    other = reserve_unfinished(w, bob.id, "a" * 64)
    assert w.images.existing_copy(alice, "a" * 64) == gone.id
    assert w.images.roll_back_uploads(alice, {"a" * 64}) == 1
    assert w.images.existing_copy(alice, "a" * 64) is None
    assert not w.blobs.exists(gone.original_key)
    assert w.images.quota(alice).used == 1
    assert w.images.existing_copy(alice, "b" * 64) == kept.id
    assert w.images.existing_copy(bob, "a" * 64) == other.id
    assert w.images.roll_back_uploads(alice, set()) == 0


def signed_link(w: World, data: bytes) -> tuple[Account, Image, tuple[str, str, str]]:
    """Alice's new image and the key, exp and sig of its original's URL."""
    acct = w.accounts.sign_up("alice", "correct horse")
    image = w.images.upload(acct, "a.png", w.file(data))
    parts = urlsplit(w.images.urls(image).url)
    q = dict(parse_qsl(parts.query))
    return acct, image, (unquote(parts.path.removeprefix("/blobs/")), q["exp"], q["sig"])


def test_a_signed_blob_is_served_while_its_link_and_image_live(w: World) -> None:
    data = png_bytes(seed=3)
    acct, image, (key, exp, sig) = signed_link(w, data)
    assert w.images.serve_signed_blob(key, exp, sig) == (data, "image/png")
    for bad in ((key, exp, "0" * len(sig)), (image.thumbnail_key, exp, sig), (key, str(int(exp) + 1), sig)):
        with pytest.raises(BlobMissing):
            w.images.serve_signed_blob(*bad)
    w.blobs.fail_deletes = True
    w.images.delete(acct, image.id)
    assert w.blobs.exists(key)  # left for the sweeper, but no longer served
    with pytest.raises(BlobMissing):
        w.images.serve_signed_blob(key, exp, sig)


def test_a_signed_blob_link_dies_when_it_expires(w: World) -> None:
    _, _, link = signed_link(w, png_bytes())
    w.clock.advance(timedelta(minutes=31))
    with pytest.raises(BlobMissing):
        w.images.serve_signed_blob(*link)


def test_without_a_signed_blob_server_no_blob_is_served(w: World) -> None:
    _, _, link = signed_link(w, png_bytes())
    s3_like = ImageService(w.images_repo, w.blobs, FakeImageInspector(), w.scheduler, w.clock)
    with pytest.raises(NotFound):
        s3_like.serve_signed_blob(*link)
