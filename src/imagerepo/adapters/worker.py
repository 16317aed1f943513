"""In-process analysis workers: threads that drain the job queue kept by the ImageRepository."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.ports.image_analyzer import ImageAnalyzer

log = logging.getLogger(__name__)


class TimeoutImageAnalyzer:
    """Wraps an analyzer so one image cannot hold a worker forever (in-process analysis only,
    ``IMAGEREPO_ANALYSIS_PROCESSES=0``; ProcessImageAnalyzer really stops an overrunning stage).

    Python cannot kill a thread: a call that overruns is abandoned (it finishes in the background
    and its result is dropped) and the analysis is failed with the reason.
    """

    def __init__(self, inner: ImageAnalyzer, timeout_seconds: float) -> None:
        self.inner = inner
        self.timeout_seconds = timeout_seconds
        self.name = inner.name

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        future: Future[AnalysisResult] = Future()

        def run() -> None:
            try:
                future.set_result(self.inner.analyze(data, content_type, preview=preview))
            except BaseException as e:
                future.set_exception(e)

        threading.Thread(target=run, name="analysis-call", daemon=True).start()
        try:
            return future.result(timeout=self.timeout_seconds)
        except TimeoutError:
            raise AnalysisFailed(f"analysis timed out after {self.timeout_seconds:g} s") from None


class ThreadAnalysisWorker:
    """``concurrency`` threads claim and process jobs; ``notify`` wakes them at once, and they
    also poll, so jobs left by a restart or made by another process are found."""

    def __init__(self, service: AnalysisService, concurrency: int = 2, poll_seconds: float = 2.0) -> None:
        self.service = service
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for i in range(self.concurrency):
            t = threading.Thread(target=self._loop, name=f"analysis-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.service.run_once()
            except Exception:
                log.exception("analysis worker: could not claim a job; retrying")
                worked = False
            if not worked:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def drain(self, max_jobs: int = 1000) -> int:
        """Process due jobs in the calling thread (CLI and tests)."""
        done = 0
        while done < max_jobs and self.service.run_once():
            done += 1
        return done


class NullScheduler:
    """For API processes that leave analysis to separate `imagerepo worker` processes."""

    def notify(self) -> None:
        return None
