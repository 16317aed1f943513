"""ProcessFaceAnalyzer: LocalFaceAnalyzer in child processes, like the rest of the local analysis.

A face model that crashes or hangs on a hostile image takes down only its child, which is killed
and replaced (ProcessImageAnalyzer). The faces cross back as JSON inside an AnalysisResult's
``extra`` (box, embedding, quality, the crop in base64), never as pickles.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from typing import Any

from imagerepo.adapters.local.faces import LocalFaceAnalyzer
from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.domain.people import Box, FaceFinding


def finding_to_json(f: FaceFinding) -> dict[str, Any]:
    return {"box": [f.box.x, f.box.y, f.box.w, f.box.h], "embedding": list(f.embedding), "quality": f.quality,
            "crop": base64.b64encode(f.crop).decode("ascii")}


def finding_from_json(data: Any) -> FaceFinding:
    try:
        x, y, w, h = (float(v) for v in data["box"])
        embedding = tuple(float(v) for v in data["embedding"])
        if len(embedding) != 128:
            raise ValueError("an embedding has 128 values")
        return FaceFinding(Box(x, y, w, h), embedding, float(data["quality"]),
                           base64.b64decode(data["crop"], validate=True))
    except (KeyError, TypeError, ValueError) as e:
        raise AnalysisFailed(f"the face analysis process answered nonsense: {e}") from e


class FacesAsAnalysis:
    """Runs in the child: the faces, wrapped in an AnalysisResult for the trip back."""

    name = "local-faces"

    def __init__(self, max_pixels: int | None = None) -> None:
        self._faces = LocalFaceAnalyzer(max_pixels)

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        found = self._faces.find_faces(data, content_type)
        return AnalysisResult(analyzer=self.name, extra={"faces": [finding_to_json(f) for f in found]})


class ProcessFaceAnalyzer:
    name = "local-faces"

    def __init__(self, *, processes: int = 1, timeout_seconds: float = 60.0, max_pixels: int | None = None) -> None:
        self._pool = ProcessImageAnalyzer(functools.partial(FacesAsAnalysis, max_pixels), name=self.name,
                                          processes=processes, timeout_seconds=timeout_seconds)

    def pids(self) -> list[int]:
        return self._pool.pids()

    def find_faces(self, data: bytes, content_type: str) -> Sequence[FaceFinding]:
        result = self._pool.analyze(data, content_type)
        return [finding_from_json(f) for f in result.extra.get("faces", [])]

    def close(self) -> None:
        self._pool.close()
