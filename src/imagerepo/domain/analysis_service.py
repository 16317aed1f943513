"""Analysis service: take a pending image, run the analyzer, record the outcome."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from imagerepo.domain.errors import AnalysisFailed, BlobMissing, ServiceUnavailable
from imagerepo.domain.images import Analysis, AnalysisJob, AnalysisResult, AnalysisStatus, Image
from imagerepo.domain.images_service import RunTogether, one_after_another
from imagerepo.ports.analysis_queue import AnalysisQueue
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.clock import Clock
from imagerepo.ports.fingerprint_repository import FingerprintRepository
from imagerepo.ports.image_analyzer import ImageAnalyzer

log = logging.getLogger(__name__)

# What became of a processed job besides its analysis status: a deletion or a newer request won.
SUPERSEDED = "superseded"


class AlongsideStep(Protocol):
    """Work on the same image that runs beside its analysis and is kept only after it."""

    def find(self, image: Image, data: bytes) -> object:
        """Read the image; stores nothing."""
        ...

    def keep(self, image: Image, found: Any) -> object:
        """Store what :meth:`find` returned, once the image's analysis is recorded."""
        ...


class AnalysisService:
    def __init__(
        self,
        queue: AnalysisQueue,
        blobs: BlobStore,
        analyzer: ImageAnalyzer,
        clock: Clock,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        base_backoff: timedelta = timedelta(seconds=5),
        fingerprints: FingerprintRepository | None = None,
        alongside: AlongsideStep | None = None,
        run_together: RunTogether = one_after_another,
        use_thumbnail: bool = False,
    ) -> None:
        self._queue = queue
        # Hand the analyzer the stored thumbnail as its preview (IMAGEREPO_ANALYZE_THUMBNAIL): less
        # CPU for large originals, slightly different results near the models' thresholds.
        self._use_thumbnail = use_thumbnail
        self._blobs = blobs
        self._analyzer = analyzer
        self._clock = clock
        self._lease = lease
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._fingerprints = fingerprints
        # A step that reads the same image beside the analysis (the people service finds faces,
        # in its own child process) and keeps its result once the analysis is recorded; its
        # failure is logged and does not fail the analysis.
        self._alongside = alongside
        self._run_together = run_together

    def claim(self) -> AnalysisJob | None:
        now = self._clock.now()
        return self._queue.claim_analysis(now, now + self._lease)

    def pending(self) -> int:
        """How many analyses wait, due now or later."""
        return self._queue.pending_analyses()

    def drain(self, max_jobs: int | None = None, on_job: Callable[[str], None] = lambda outcome: None) -> Counter[str]:
        """Process due jobs in the calling thread until none is due (or ``max_jobs`` ran), for
        the CLI and the library; ``on_job`` hears each outcome. Returns the outcomes counted:
        analysis statuses (a retry scheduled for later counts as pending) or ``superseded``."""
        outcomes: Counter[str] = Counter()
        while max_jobs is None or outcomes.total() < max_jobs:
            job = self.claim()
            if job is None:
                break
            outcome = self.process(job)
            outcomes[outcome] += 1
            on_job(outcome)
        return outcomes

    def run_once(self) -> bool:
        """Process one due job; False when there was none."""
        job = self.claim()
        if job is None:
            return False
        self.process(job)
        return True

    def process(self, job: AnalysisJob) -> str:
        """Never raises: every outcome is recorded on the image. Returns the status recorded
        (pending when a retry is scheduled), or ``superseded`` when the image moved on."""
        name = getattr(self._analyzer, "name", "unknown")
        found: list[object] = []
        try:
            data = self._blobs.get(job.image.original_key)
            preview = self._thumbnail(job.image) if self._use_thumbnail else None
            results: list[AnalysisResult] = []
            calls = [lambda: results.append(self._analyzer.analyze(data, job.image.content_type, preview=preview))]
            if self._alongside is not None:
                calls.append(lambda: found.extend(self._find_alongside(job.image, data)))
            self._run_together(calls)
            (result,) = results
        except AnalysisFailed as e:
            return self._failed(job, name, e.message, retryable=e.retryable, retry_after=e.retry_after)
        except BlobMissing:
            return self._failed(job, name, "the original image is missing from storage", retryable=False)
        except ServiceUnavailable as e:  # the store is down, not the image at fault: try again later
            return self._failed(job, name, e.message, retryable=True)
        except Exception as e:  # a stage crashed: the worker lives on
            log.exception("analysis of %s crashed", job.image.id)
            return self._failed(job, name, f"analyzer error: {type(e).__name__}: {e}"[:500], retryable=False)
        outcome = self._record(job, Analysis.done(result, self._clock.now()))
        if outcome == AnalysisStatus.DONE.value and result.fingerprint is not None and self._fingerprints is not None:
            try:  # "more like this" and duplicates need it; the analysis stands without it
                self._fingerprints.put(job.image.owner_id, job.image.id, result.fingerprint)
            except Exception:
                log.warning("fingerprint of %s not stored", job.image.id, exc_info=True)
        if self._alongside is not None and found and outcome == AnalysisStatus.DONE.value:
            try:
                self._alongside.keep(job.image, found[0])
            except Exception:
                log.exception("faces of %s not kept", job.image.id)
        return outcome

    def _thumbnail(self, image: Image) -> bytes | None:
        """The stored thumbnail, which the analyzer may read instead of decoding the original;
        None when it cannot be read (the analysis then decodes the original, it does not fail)."""
        try:
            return self._blobs.get(image.thumbnail_key)
        except Exception:
            log.warning("thumbnail of %s not readable; analyzing the original alone", image.id, exc_info=True)
            return None

    def _find_alongside(self, image: Image, data: bytes) -> list[object]:
        assert self._alongside is not None
        try:
            return [self._alongside.find(image, data)]
        except Exception:
            log.exception("face analysis of %s failed", image.id)
            return []

    def _record(self, job: AnalysisJob, analysis: Analysis) -> str:
        return analysis.status.value if self._queue.complete_analysis(job, analysis) else SUPERSEDED

    def _failed(
        self, job: AnalysisJob, analyzer: str, reason: str, *, retryable: bool, retry_after: float | None = None
    ) -> str:
        now = self._clock.now()
        if retryable and job.attempts < self._max_attempts:
            delay = self._base_backoff.total_seconds() * 2 ** (job.attempts - 1)
            if retry_after is not None:
                delay = max(delay, retry_after)
            retried = self._queue.retry_analysis(job, now + timedelta(seconds=delay), reason)
            log.info("analysis of %s will be retried in %.0f s: %s", job.image.id, delay, reason)
            return AnalysisStatus.PENDING.value if retried else SUPERSEDED
        if retryable:
            reason = f"{reason} (gave up after {job.attempts} attempts)"
        # The owner sees the reason on the image; an operator sees it here.
        log.warning("analysis of %s failed: %s", job.image.id, reason)
        return self._record(job, Analysis.failed(analyzer, reason, now))
