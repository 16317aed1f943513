"""Analysis service: take a pending image, run the analyzer, record the outcome."""

from __future__ import annotations

import logging
from datetime import timedelta

from imagerepo.domain.errors import AnalysisFailed, BlobMissing, ServiceUnavailable
from imagerepo.domain.images import Analysis, AnalysisJob
from imagerepo.ports.analysis_queue import AnalysisQueue
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.clock import Clock
from imagerepo.ports.image_analyzer import ImageAnalyzer

log = logging.getLogger(__name__)


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
    ) -> None:
        self.queue = queue
        self.blobs = blobs
        self.analyzer = analyzer
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff

    def claim(self) -> AnalysisJob | None:
        now = self.clock.now()
        return self.queue.claim_analysis(now, now + self.lease)

    def run_once(self) -> bool:
        """Process one due job; False when there was none."""
        job = self.claim()
        if job is None:
            return False
        self.process(job)
        return True

    def process(self, job: AnalysisJob) -> None:
        """Never raises: every outcome is recorded on the image."""
        name = getattr(self.analyzer, "name", "unknown")
        try:
            data = self.blobs.get(job.image.original_key)
            result = self.analyzer.analyze(data, job.image.content_type)
        except AnalysisFailed as e:
            self._failed(job, name, e.message, retryable=e.retryable, retry_after=e.retry_after)
        except BlobMissing:
            self._failed(job, name, "the original image is missing from storage", retryable=False)
        except ServiceUnavailable as e:  # the store is down, not the image at fault: try again later
            self._failed(job, name, e.message, retryable=True)
        except Exception as e:  # a stage crashed: the worker lives on
            log.exception("analysis of %s crashed", job.image.id)
            self._failed(job, name, f"analyzer error: {type(e).__name__}: {e}"[:500], retryable=False)
        else:
            self.queue.complete_analysis(job, Analysis.done(result, self.clock.now()))

    def _failed(
        self, job: AnalysisJob, analyzer: str, reason: str, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        now = self.clock.now()
        if retryable and job.attempts < self.max_attempts:
            delay = self.base_backoff.total_seconds() * 2 ** (job.attempts - 1)
            if retry_after is not None:
                delay = max(delay, retry_after)
            self.queue.retry_analysis(job, now + timedelta(seconds=delay), reason)
            return
        if retryable:
            reason = f"{reason} (gave up after {job.attempts} attempts)"
        self.queue.complete_analysis(job, Analysis.failed(analyzer, reason, now))
