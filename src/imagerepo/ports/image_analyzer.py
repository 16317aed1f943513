"""ImageAnalyzer port."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from imagerepo.domain.images import AnalysisResult


@runtime_checkable
class ImageAnalyzer(Protocol):
    name: str

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        """Describe the image. Large images are downscaled by the analyzer itself as it needs.

        ``preview``: a smaller rendering of the same picture (the stored thumbnail: a JPEG, already
        upright, no alpha), which the analyzer may decode instead of ``data`` when it is large
        enough for its needs; the result still describes ``data`` (its size, not the preview's).
        An analyzer may ignore it.

        Raises AnalysisFailed (``retryable`` for rate limits, timeouts and outages).
        """
        ...
