"""ImageAnalyzer port."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from imagerepo.domain.images import AnalysisResult


@runtime_checkable
class ImageAnalyzer(Protocol):
    name: str

    def analyze(self, data: bytes, content_type: str) -> AnalysisResult:
        """Describe the image. Large images are downscaled by the analyzer itself as it needs.

        Raises AnalysisFailed (``retryable`` for rate limits, timeouts and outages).
        """
        ...
