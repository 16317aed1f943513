"""FingerprintingAnalyzer: gives a remote analyzer's results the perceptual hash, computed here."""

from __future__ import annotations

import attrs

from imagerepo.adapters.local.decode import decode_preferring
from imagerepo.adapters.perceptual_hash import hashes_of_rgb
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.domain.similarity import Fingerprint
from imagerepo.ports.image_analyzer import ImageAnalyzer


class FingerprintingAnalyzer:
    """Wraps an analyzer that returns no perceptual hash (Azure's): the hash needs no model, only
    the decoded pixels, so duplicates work whichever analyzer runs."""

    def __init__(self, inner: ImageAnalyzer) -> None:
        self._inner = inner
        self.name = getattr(inner, "name", "unknown")

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        result = self._inner.analyze(data, content_type, preview=preview)
        if result.fingerprint is not None and result.fingerprint.phash is not None:
            return result
        try:
            phash, detail = hashes_of_rgb(decode_preferring(data, preview).rgb)  # as the local analyzer
        except AnalysisFailed:
            return result  # the analyzer read it; a hash we cannot make is no failure
        fp = (result.fingerprint or Fingerprint()).merged(Fingerprint(phash=phash, detail=detail))
        return attrs.evolve(result, fingerprint=fp)
