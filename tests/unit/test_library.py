"""The Python facade on a real embedded data dir: the API's behaviour without HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagerepo.domain.errors import DuplicateImage, NotFound, QuotaExceeded, UnsupportedMediaType
from imagerepo.entrypoints.settings import Settings
from imagerepo.library import Repository
from tests import images as img


@pytest.fixture
def settings() -> Settings:
    return Settings(local_models=False, upload_quota=3)


def test_the_documented_example_round_trip(tmp_path: Path, settings: Settings) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(img.jpeg((80, 60), (20, 110, 200)))
    with Repository.open(tmp_path / "var", settings=settings) as repo:
        alice = repo.sign_up("alice", "correct horse")
        image = repo.upload(alice, photo)
        assert image.analysis.status == "pending"
        assert repo.run_pending_analyses() == 1
        found = repo.search(alice, q="beach")
        assert [i.id for i in found] == [image.id]
        assert found[0].analysis.status == "done"
        assert found[0].analysis.colors
        assert repo.read(alice, image.id) == photo.read_bytes()
    # Everything is still there when opened again.
    with Repository.open(tmp_path / "var", settings=settings) as repo:
        alice = repo.account("ALICE")
        assert repo.get(alice, image.id).filename == "beach.jpg"
        assert repo.search(alice, color="#1e6eb4")[0].id == image.id


def test_bytes_uploads_follow_the_api_rules(tmp_path: Path, settings: Settings) -> None:
    with Repository.open(tmp_path, settings=settings) as repo:
        alice, bob = repo.sign_up("alice", "correct horse"), repo.sign_up("bob", "correct horse")
        first = repo.upload(alice, img.png(), filename="a.png")
        with pytest.raises(DuplicateImage):
            repo.upload(alice, img.png(), filename="again.png")
        with pytest.raises(UnsupportedMediaType):
            repo.upload(alice, img.SVG, filename="x.svg")
        repo.upload(alice, img.gif(), filename="b.gif")
        repo.upload(alice, img.webp(), filename="c.webp")
        with pytest.raises(QuotaExceeded):
            repo.upload(alice, img.jpeg(), filename="d.jpg")
        assert repo.quota(alice).used == 3
        # Another user's image is a missing one.
        with pytest.raises(NotFound):
            repo.get(bob, first.id)
        repo.delete(alice, first.id)
        with pytest.raises(NotFound):
            repo.get(alice, first.id)
        assert repo.quota(alice).used == 2
        assert sorted(i.filename for i in repo.search(alice, sort="filename")) == ["b.gif", "c.webp"]
        assert not list((tmp_path / "tmp").iterdir())  # no temporary files left behind


def test_the_example_in_the_operations_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "beach.jpg").write_bytes(img.jpeg((80, 60), (20, 110, 200)))
    (tmp_path / "logo.png").write_bytes(img.png())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMAGEREPO_LOCAL_MODELS", "0")
    exec(compile(example, "operations.md", "exec"), {})
    assert "beach.jpg" in capsys.readouterr().out


def test_search_by_capture_time_and_place(tmp_path: Path, settings: Settings) -> None:
    with Repository.open(tmp_path / "var", settings=settings) as repo:
        alice = repo.sign_up("alice", "correct horse")
        paris = repo.upload(alice, img.photo(), filename="paris.jpg")
        scan = repo.upload(alice, img.png(), filename="scan.png")
        assert paris.location is not None
        assert paris.location.city == "Paris"
        assert [i.id for i in repo.search(alice, sort="-taken_at")] == [paris.id, scan.id]
        assert [i.id for i in repo.search(alice, place="france", taken_after="2023-06-01")] == [paris.id]
        assert repo.search(alice, taken_before="2023-06-01") == []
