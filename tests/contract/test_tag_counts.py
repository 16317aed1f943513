"""ImageRepository.tag_counts contract: the tags an owner's visible images carry, with counts,
the same on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagerepo.domain.images import Analysis
from tests.contract.test_image_repository import T0, done, image, stored


def test_counts_ready_images_per_tag_most_used_first(image_repo: Any) -> None:
    stored(image_repo, image(analysis=done(tags=("dog", "beach"))))
    stored(image_repo, image(analysis=done(tags=("Dog", "sky"))))
    stored(image_repo, image(analysis=done(tags=("dog", "DOG"))))  # one image counts once
    stored(image_repo, image(analysis=done(tags=("beach",))))
    stored(image_repo, image(analysis=done()))
    assert image_repo.tag_counts("alice") == [("dog", 3), ("beach", 2), ("sky", 1)]


def test_only_the_owners_visible_images_count(image_repo: Any) -> None:
    stored(image_repo, image(analysis=done(tags=("cat",))))
    stored(image_repo, image(owner="bob", analysis=done(tags=("cat", "secret"))))
    uploading = image(analysis=done(tags=("cat", "half-way")))
    image_repo.reserve(uploading, 100)  # never committed: invisible
    leaving = stored(image_repo, image(analysis=done(tags=("cat", "gone"))))
    image_repo.begin_delete("alice", leaving.id)
    assert image_repo.tag_counts("alice") == [("cat", 1)]
    assert image_repo.tag_counts("bob") == [("cat", 1), ("secret", 1)]
    assert image_repo.tag_counts("nobody") == []


def test_a_new_analysis_replaces_the_counted_tags(image_repo: Any) -> None:
    img = stored(image_repo, image(analysis=done(tags=("cat",))))
    image_repo.request_analysis("alice", img.id, T0)
    assert image_repo.tag_counts("alice") == []  # pending: no tags yet
    job = image_repo.claim_analysis(T0, T0.replace(hour=13))
    assert job is not None
    assert image_repo.complete_analysis(job, done(tags=("tabby", "cat")))
    assert image_repo.tag_counts("alice") == [("cat", 1), ("tabby", 1)]


TAG_NAMES = ["dog", "Dog", "beach", "sky", "Straße", "strasse", "été", "ÉTÉ", "zebra", "a b"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(st.tuples(st.lists(st.sampled_from(TAG_NAMES), max_size=4), st.booleans()), max_size=8))
def test_counts_match_the_tags_of_the_visible_images(image_repo: Any, specs: list[tuple[list[str], bool]]) -> None:
    owner = f"owner-{uuid.uuid4().hex}"  # the repository outlives one example: a fresh owner each time
    expected: Counter[str] = Counter()
    for tags, keep in specs:
        img = stored(image_repo, image(owner, analysis=done(tags=tuple(tags)) if tags else Analysis.pending("fake")))
        if keep:
            expected.update({t.casefold() for t in tags})
        else:
            image_repo.begin_delete(owner, img.id)
    got = image_repo.tag_counts(owner)
    assert dict(got) == expected
    assert got == sorted(got, key=lambda kv: (-kv[1], kv[0]))
