"""FaceAnalyzer port: find the faces in an image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imagerepo.domain.people import FaceFinding


@runtime_checkable
class FaceAnalyzer(Protocol):
    name: str

    def find_faces(self, data: bytes, content_type: str) -> Sequence[FaceFinding]:
        """The faces in the image, each with its box, embedding, quality and a JPEG crop; an
        image with no face gives none. Raises AnalysisFailed for an image it cannot read."""
        ...
