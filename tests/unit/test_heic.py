"""HEIC photos (what iPhones take) are accepted where pillow-heif is installed, which `make` does."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container

pillow_heif = pytest.importorskip("pillow_heif")


def heic(size: tuple[int, int] = (96, 64), color: tuple[int, int, int] = (20, 160, 60)) -> bytes:
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "HEIF")
    return out.getvalue()


def test_a_heic_upload_is_stored_as_image_heic(tmp_path: Path) -> None:
    with TestClient(create_app(memory_container(Settings(data_dir=tmp_path, workers=0)))) as client:
        client.post("/api/v1/accounts", json={"username": "alice", "password": "correct horse"})
        token = client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"}).json()
        auth = {"Authorization": f"Bearer {token['token']}"}
        r = client.post("/api/v1/images", files={"file": ("IMG_0001.HEIC", heic(), "application/octet-stream")},
                        headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["content_type"] == "image/heic"
        assert (r.json()["width"], r.json()["height"]) == (96, 64)


def test_a_worker_process_decodes_heic_without_the_inspector(tmp_path: Any) -> None:
    """`imagerepo worker` never builds the upload inspector; its analyzer must still read HEIC."""
    path = tmp_path / "photo.heic"
    path.write_bytes(heic())
    script = (
        "import json, sys; from pathlib import Path\n"
        "from imagerepo.adapters.local import LocalImageAnalyzer\n"
        "r = LocalImageAnalyzer(models=False).analyze(Path(sys.argv[1]).read_bytes(), 'image/heic')\n"
        "print(json.dumps([c.name for c in r.colors]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert "green" in json.loads(out.stdout)
