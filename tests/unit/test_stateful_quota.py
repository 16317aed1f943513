"""Stateful test: any sequence of uploads, deletes and re-analyses keeps quota and isolation exact."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from imagerepo.adapters.memory import (
    FakeImageInspector,
    InMemoryBlobStore,
    InMemoryImageRepository,
    ManualClock,
    RecordingScheduler,
    png_bytes,
)
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.errors import DuplicateImage, NotFound, QuotaExceeded, ServiceUnavailable
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.queries import build_query
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container

QUOTA = 3
USERS = ("alice", "bob")


class QuotaMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        c = memory_container(
            Settings(data_dir=self.tmp, workers=0, upload_quota=QUOTA),
            clock=ManualClock(), inspector=FakeImageInspector(), scheduler=RecordingScheduler(),
        )
        self.repo: InMemoryImageRepository = c.image_repository()
        self.blobs: InMemoryBlobStore = c.blob_store()
        self.accounts: AccountService = c.account_service()
        self.images: ImageService = c.image_service()
        self.analysis: AnalysisService = c.analysis_service()
        self.users = {u: self.accounts.sign_up(u, "password " + u) for u in USERS}
        # model: user -> {image_id: seed}
        self.model: dict[str, dict[str, int]] = {u: {} for u in USERS}
        self.n = 0

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _file(self, seed: int) -> Path:
        self.n += 1
        p = self.tmp / f"{self.n}.png"
        p.write_bytes(png_bytes(3, 2, seed))
        return p

    @rule(user=st.sampled_from(USERS), seed=st.integers(0, 6), storage_fails=st.booleans())
    def upload(self, user: str, seed: int, storage_fails: bool) -> None:
        mine = self.model[user]
        self.blobs.fail_puts = storage_fails
        try:
            image = self.images.upload(self.users[user], f"{seed}.png", self._file(seed))
        except DuplicateImage as e:
            assert seed in mine.values()
            assert mine[e.existing_id] == seed
        except QuotaExceeded as e:
            assert seed not in mine.values()
            assert len(mine) == QUOTA == e.used
        except ServiceUnavailable:
            assert storage_fails
        else:
            assert not storage_fails
            assert seed not in mine.values()
            assert len(mine) < QUOTA
            mine[image.id] = seed
        finally:
            self.blobs.fail_puts = False

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), as_other=st.booleans())
    def delete(self, data: st.DataObject, as_other: bool) -> None:
        owner = data.draw(st.sampled_from([u for u in USERS if self.model[u]]))
        # Ids are random uuids: draw by upload order (the dict's), which replays identically.
        image_id = data.draw(st.sampled_from(list(self.model[owner])))
        actor = next(u for u in USERS if u != owner) if as_other else owner
        try:
            self.images.delete(self.users[actor], image_id)
        except NotFound:
            assert as_other
        else:
            assert not as_other
            del self.model[owner][image_id]

    @rule(user=st.sampled_from(USERS))
    def analyze(self, user: str) -> None:
        self.analysis.run_once()

    @invariant()
    def quota_and_listing_match_the_model(self) -> None:
        for user, mine in self.model.items():
            account = self.users[user]
            assert self.images.quota(account).used == len(mine) <= QUOTA
            listed = self.images.search(build_query(account.id, limit=100)).items
            assert {i.id for i in listed} == set(mine)
            assert all(i.owner_id == account.id for i in listed)

    @invariant()
    def every_blob_belongs_to_a_listed_image(self) -> None:
        live = {i for mine in self.model.values() for i in mine}
        assert {k.split("/")[1] for k in self.blobs.keys()} == live


TestQuotaMachine = QuotaMachine.TestCase
TestQuotaMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
