"""A stateful model of two users driving the HTTP API: quota, isolation, blobs, deletion."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from litestar.testing import TestClient

from imagerepo.adapters.filestore import EncryptedFileBlobStore
from imagerepo.adapters.memory import ManualClock, png_bytes
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.hardening.support import error_code, signup, upload
from tests.wiring import memory_container

QUOTA = 3
USERS = ("alice", "bob")
users = st.sampled_from(USERS)
seeds = st.integers(0, 5)


class TwoUsers(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="imagerepo-stateful-"))
        clock = ManualClock()
        self.store = EncryptedFileBlobStore(self.tmp / "blobs", b"b" * 32, b"u" * 32, clock)
        container = memory_container(
            Settings(data_dir=self.tmp, workers=0, upload_quota=QUOTA), clock=clock, blob_store=self.store
        )
        self.service = container.analysis_service()
        self.client: TestClient[Any] = TestClient(create_app(container))
        self.client.__enter__()
        self.auth = {u: signup(self.client, u) for u in USERS}
        self.held: dict[str, dict[str, int]] = {u: {} for u in USERS}  # user -> image id -> seed
        self.gone: dict[str, set[str]] = {u: set() for u in USERS}
        self.order: list[str] = []

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def some_id(self, data: st.DataObject) -> str:
        # Ids are random; drawing by creation order keeps hypothesis' replays deterministic.
        return data.draw(st.sampled_from(self.order)) if self.order else "no-such-image"

    @rule(user=users, seed=seeds)
    def upload(self, user: str, seed: int) -> None:
        r = upload(self.client, self.auth[user], png_bytes(4, 4, seed), name=f"{seed}.png", ctype="image/png")
        mine = self.held[user]
        if seed in mine.values():
            assert r.status_code == 409
            assert error_code(r) == "duplicate_image"
            existing = next(i for i, s in mine.items() if s == seed)
            assert r.json()["error"]["details"] == {"existing_id": existing}
        elif len(mine) >= QUOTA:
            assert r.status_code == 409
            assert error_code(r) == "quota_exceeded"
            assert r.json()["error"]["details"] == {"used": QUOTA, "limit": QUOTA}
        else:
            assert r.status_code == 201, r.text
            mine[r.json()["id"]] = seed
            self.order.append(r.json()["id"])

    @rule(user=users, data=st.data())
    def delete(self, user: str, data: st.DataObject) -> None:
        image_id = self.some_id(data)
        url = None
        if image_id in self.held[user]:
            url = self.client.get(f"/api/v1/images/{image_id}", headers=self.auth[user]).json()["url"]
        r = self.client.delete(f"/api/v1/images/{image_id}", headers=self.auth[user])
        if url is not None:
            assert r.status_code == 204
            assert self.client.get(url).status_code == 404  # a URL handed out earlier dies with it
            del self.held[user][image_id]
            self.gone[user].add(image_id)
        else:
            assert r.status_code == 404
            assert error_code(r) == "not_found"

    @rule(user=users, data=st.data())
    def reanalyze(self, user: str, data: st.DataObject) -> None:
        image_id = self.some_id(data)
        r = self.client.post(f"/api/v1/images/{image_id}/analysis", headers=self.auth[user])
        if image_id in self.held[user]:
            assert r.status_code == 202
            assert r.json()["analysis"]["status"] == "pending"
        else:
            assert r.status_code == 404

    @rule(user=users, data=st.data())
    def peek(self, user: str, data: st.DataObject) -> None:
        image_id = self.some_id(data)
        for suffix in ("", "/content"):
            r = self.client.get(f"/api/v1/images/{image_id}{suffix}", headers=self.auth[user],
                                follow_redirects=False)
            assert r.status_code == ((307 if suffix else 200) if image_id in self.held[user] else 404)

    @rule()
    def analyze(self) -> None:
        self.service.run_once()

    @invariant()
    def quota_matches_the_list_and_users_are_isolated(self) -> None:
        for user in USERS:
            page = self.client.get("/api/v1/images", params={"limit": 100}, headers=self.auth[user]).json()
            listed = {i["id"]: i for i in page["items"]}
            assert set(listed) == set(self.held[user])  # never the other user's, never a deleted one
            quota = self.client.get("/api/v1/me", headers=self.auth[user]).json()["quota"]
            assert quota == {"used": len(listed), "limit": QUOTA}
            for image_id, image in listed.items():
                original = self.client.get(image["url"])
                assert original.status_code == 200
                assert original.content == png_bytes(4, 4, self.held[user][image_id])
                assert self.client.get(image["thumbnail_url"]).status_code == 200
            for image_id in self.gone[user]:
                assert self.client.get(f"/api/v1/images/{image_id}", headers=self.auth[user]).status_code == 404
        live = {i for u in USERS for i in self.held[u]}
        owners = {k.split("/")[1] for k in self.store.keys()}
        assert owners == live


TwoUsers.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
test_two_users = TwoUsers.TestCase
