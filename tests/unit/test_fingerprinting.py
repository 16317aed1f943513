"""The Azure analyzer's results get the perceptual and detail hashes, made locally (no model needed)."""

from __future__ import annotations

import attrs

from imagerepo.adapters.fingerprinting import FingerprintingAnalyzer
from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.memory import FakeImageAnalyzer
from imagerepo.adapters.perceptual_hash import hashes_of_rgb
from imagerepo.domain.images import AnalysisResult
from imagerepo.domain.similarity import Fingerprint
from tests import images as img


class NoHash:
    name = "azure"

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        return AnalysisResult("azure", description="a photo")


def test_a_result_without_a_hash_gets_one_and_keeps_the_rest() -> None:
    data = img.jpeg((96, 64), (200, 30, 30))
    result = FingerprintingAnalyzer(NoHash()).analyze(data, "image/jpeg")
    assert result.description == "a photo"
    phash, detail = hashes_of_rgb(decode(data).rgb)
    assert result.fingerprint == Fingerprint(phash=phash, detail=detail)


def test_a_hash_already_made_is_kept_and_an_undecodable_file_is_no_failure() -> None:
    made = attrs.evolve(AnalysisResult("local"), fingerprint=Fingerprint(phash=7))

    class Made:
        name = "local"

        def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
            return made

    assert FingerprintingAnalyzer(Made()).analyze(b"x", "image/jpeg") is made
    wrapped = FingerprintingAnalyzer(FakeImageAnalyzer())
    assert wrapped.analyze(b"not an image", "image/jpeg").fingerprint is None
    assert wrapped.name == FakeImageAnalyzer().name
