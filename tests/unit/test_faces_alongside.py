"""Faces are found beside the image's analysis, not after it, and kept only once the analysis is
recorded: a photo's analysis with faces waits for the longer of the two, and a failed analysis or
a failed face search loses nothing else. Concurrency is shown by the two calls meeting (each waits
for the other to have started), never by a clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import FakeImageAnalyzer, ManualClock
from imagerepo.adapters.memory_people import ScriptedFaceAnalyzer
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.domain.people import FaceFinding
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.people_faces import finding
from tests.unit.test_people_api import Env, people, signup
from tests.wiring import memory_container

MEETING_WAIT = 20  # seconds; only reached when the two calls do not run at once (a failure)


class Meeting:
    def __init__(self) -> None:
        self.analysis = threading.Event()
        self.faces = threading.Event()


class AnalyzerThatWaitsForFaces(FakeImageAnalyzer):
    def __init__(self, meeting: Meeting) -> None:
        super().__init__()
        self.meeting = meeting

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        self.meeting.analysis.set()
        if not self.meeting.faces.wait(MEETING_WAIT):
            raise AnalysisFailed("the faces were not being looked for while the image was analyzed")
        return super().analyze(data, content_type)


class FacesThatWaitForAnalysis(ScriptedFaceAnalyzer):
    def __init__(self, meeting: Meeting) -> None:
        super().__init__()
        self.meeting = meeting
        self.fail = False

    def find_faces(self, data: bytes, content_type: str) -> Sequence[FaceFinding]:
        self.meeting.faces.set()
        self.meeting.analysis.wait(MEETING_WAIT)
        if self.fail:
            raise RuntimeError("face child crashed")
        return super().find_faces(data, content_type)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    meeting = Meeting()
    faces = FacesThatWaitForAnalysis(meeting)
    analyzer = AnalyzerThatWaitsForFaces(meeting)
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50, local_models=False)
    container = memory_container(settings, clock=ManualClock(), face_analyzer=faces, analyzer=analyzer)
    with TestClient(create_app(container)) as client:
        yield Env(client, container, faces)


def analysis_of(env: Env, auth: dict[str, str], image: dict[str, Any]) -> dict[str, Any]:
    r = env.client.get(f"/api/v1/images/{image['id']}", headers=auth)
    assert r.status_code == 200
    return dict(r.json()["analysis"])


def test_faces_are_found_while_the_image_is_analyzed_and_kept_after(env: Env) -> None:
    auth = signup(env.client)
    photo = env.photo(auth, finding(1, 1), finding(2, 1))
    assert analysis_of(env, auth, photo)["status"] == "done"
    assert [p["face_count"] for p in people(env, auth)] == [1, 1]


def test_a_failed_analysis_keeps_no_faces(env: Env) -> None:
    auth = signup(env.client)
    env.container.analyzer().fail_with = AnalysisFailed("model crashed", retryable=False)
    photo = env.photo(auth, finding(1, 1))
    assert env.faces.calls == 1  # looked for, beside the analysis
    assert analysis_of(env, auth, photo)["status"] == "failed"
    assert people(env, auth) == []
    owner = env.client.get("/api/v1/me", headers=auth).json()["id"]
    assert env.container.people_repository().faces(owner) == []


def test_a_failed_face_search_does_not_fail_the_analysis(env: Env) -> None:
    auth = signup(env.client)
    env.faces.fail = True  # type: ignore[attr-defined]
    photo = env.photo(auth, finding(1, 1))
    assert analysis_of(env, auth, photo)["status"] == "done"
    assert people(env, auth) == []


def test_an_account_that_did_not_opt_in_is_not_looked_at(env: Env) -> None:
    auth = signup(env.client, faces=False)
    env.container.analyzer().meeting.faces.set()  # nothing will meet the analysis: let it go on
    photo = env.photo(auth)
    assert analysis_of(env, auth, photo)["status"] == "done"
    assert env.faces.calls == 0
