"""LocalImageAnalyzer: the offline default, made of small stages behind the ImageAnalyzer port."""

from __future__ import annotations

import time
from typing import Any

from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.local.describe import describe
from imagerepo.adapters.local.palette import palette
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult


class LocalImageAnalyzer:
    """Colors always; tags, faces, text and an NSFW score when the model packages are installed.

    Models load lazily, once per process, and are shared by every thread. The timeout is checked
    between stages: a stage in progress is not interrupted, the analysis fails after it.
    """

    name = "local"

    def __init__(self, *, models: bool = True, timeout_seconds: float = 60.0) -> None:
        self.models = models
        self.timeout_seconds = timeout_seconds

    def analyze(self, data: bytes, content_type: str) -> AnalysisResult:
        started = time.perf_counter()
        timings: dict[str, float] = {}

        def lap(stage: str, t0: float) -> None:
            now = time.perf_counter()
            timings[stage] = round((now - t0) * 1000, 2)
            if now - started > self.timeout_seconds:
                raise AnalysisFailed(
                    f"analysis took longer than {self.timeout_seconds:g} s (after stage {stage})",
                    retryable=False,
                )

        t0 = time.perf_counter()
        image = decode(data)
        lap("decode", t0)

        t0 = time.perf_counter()
        try:
            colors = palette(image.resized(256), image.resized_opaque(256))
        except (ValueError, FloatingPointError, MemoryError) as e:
            raise AnalysisFailed(f"color stage failed: {e}") from e
        lap("colors", t0)

        extra: dict[str, Any] = {
            "width": image.original_size[0],
            "height": image.original_size[1],
            "timings_ms": timings,
        }
        return AnalysisResult(
            analyzer=self.name,
            description=describe(colors),
            colors=colors,
            extra=extra,
        )
