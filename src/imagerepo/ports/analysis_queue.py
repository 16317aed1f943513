"""AnalysisQueue port: the workers' side of the analysis jobs.

The queue holds no images of its own: an image's analysis is pending from its upload
(``ImageRepository.reserve``) or from a re-analysis request (``ImageRepository.request_analysis``),
and is due once the image is ready. Adapters keep both ports over one store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from imagerepo.domain.images import Analysis, AnalysisJob


@runtime_checkable
class AnalysisQueue(Protocol):
    def claim_analysis(self, now: datetime, lease_until: datetime) -> AnalysisJob | None:
        """Atomically take one pending analysis that is due and not leased (or whose lease ran
        out: its worker died). Concurrent claimers never get the same job."""
        ...

    def complete_analysis(self, job: AnalysisJob, analysis: Analysis) -> bool:
        """Record the outcome if the job's generation is still current; False if superseded."""
        ...

    def retry_analysis(self, job: AnalysisJob, available_at: datetime, error: str) -> bool:
        """Release the lease and make the job due again at ``available_at``."""
        ...

    def pending_analyses(self) -> int:
        """How many analyses wait (for health and metrics)."""
        ...
