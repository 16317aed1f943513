"""Faces found in a child process come back exactly as the in-process adapter finds them."""

from __future__ import annotations

import importlib.resources

import pytest

from imagerepo.adapters.local.face_process import ProcessFaceAnalyzer, finding_from_json
from imagerepo.adapters.local.faces import LocalFaceAnalyzer
from imagerepo.domain.errors import AnalysisFailed


def test_a_child_process_finds_the_same_faces_and_a_bad_image_fails_cleanly() -> None:
    data = importlib.resources.files("skimage").joinpath("data", "astronaut.png").read_bytes()
    pool = ProcessFaceAnalyzer(processes=1, timeout_seconds=120)
    try:
        [remote] = pool.find_faces(data, "image/png")
        [local] = LocalFaceAnalyzer().find_faces(data, "image/png")
        assert remote.box == local.box
        assert remote.embedding == pytest.approx(local.embedding, abs=1e-9)
        assert remote.crop == local.crop
        with pytest.raises(AnalysisFailed):
            pool.find_faces(b"not an image", "image/png")
        assert len(pool.pids()) == 1  # the child lives on
    finally:
        pool.close()


def test_nonsense_from_a_child_is_an_analysis_failure() -> None:
    with pytest.raises(AnalysisFailed):
        finding_from_json({"box": [0, 0, 1, 1], "embedding": [0.0] * 3, "quality": 1, "crop": ""})
