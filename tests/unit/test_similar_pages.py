"""More like this and duplicates on the pages: the detail page's "More like this", the Duplicates
page with its keep-one form (CSRF-protected), and the gallery's "Hide duplicates" toggle."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.unit.test_similar_api import _ANALYZER, PHOTOS
from tests.unit.test_web import csrf, sign_up, text_of, upload
from tests.wiring import memory_container


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    """One library for the module (the analyses are real, so slow): the test that deletes runs last."""
    clock = ManualClock()
    tmp_path = tmp_path_factory.mktemp("similar-pages")
    container = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=20), clock=clock,
                                 analyzer=_ANALYZER)
    with TestClient(create_app(container)) as c:
        sign_up(c)
        for name, data in PHOTOS.items():
            assert upload(c, (name, data, "image/jpeg")).status_code == 201
            clock.advance(60)
        container.analysis_service().drain()
        yield c


def ids_by_name(client: TestClient[Any]) -> dict[str, str]:
    page = client.get("/gallery").text
    return {name: i for i, name in re.findall(r'href="/images/([0-9a-f-]{36})">([^<]+)</a>', page)}


def test_the_detail_page_shows_more_like_this(client: TestClient[Any]) -> None:
    ids = ids_by_name(client)
    page = client.get(f"/images/{ids['cat.jpg']}").text
    section = page[page.index('id="more-like-this"'):]
    shown = re.findall(r'<span class="filename">([^<]+)</span>', section)
    assert shown[:2] in (["cat-copy.jpg", "cat-burst.jpg"], ["cat-burst.jpg", "cat-copy.jpg"])
    assert "cat.jpg" not in shown
    assert re.search(r"\d+% alike", text_of(section))


def test_the_gallery_can_hide_duplicates(client: TestClient[Any]) -> None:
    shown = set(ids_by_name(client))
    assert {"cat.jpg", "cat-copy.jpg"} <= shown
    page = client.get("/gallery?hide_copies=1").text
    names = set(re.findall(r'href="/images/[0-9a-f-]{36}">([^<]+)</a>', page))
    assert names == shown - {"cat-copy.jpg"}
    assert 'id="hide-copies" href="/gallery?view=uploaded&amp;hide_copies=0" aria-pressed="true"' in page


def test_hidden_duplicates_never_leave_a_page_empty(
    client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one image a page, the page that held only the copy is filled from the next one; the
    view chips keep duplicates hidden."""
    from imagerepo.entrypoints.http.pages import gallery

    shown = set(ids_by_name(client))
    monkeypatch.setattr(gallery, "PAGE_SIZE", 1)
    url, seen = "/gallery?hide_copies=1", []
    while url:
        page = client.get(url).text
        names = re.findall(r'href="/images/[0-9a-f-]{36}">([^<]+)</a>', page)
        assert names, "a page with nothing on it"
        seen += names
        assert 'href="/gallery?view=taken&amp;hide_copies=1"' in page
        more = re.search(r'<a class="button" rel="next" href="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else ""
    assert sorted(seen) == sorted(shown - {"cat-copy.jpg"})


def test_the_duplicates_page_keeps_one_and_deletes_the_rest(client: TestClient[Any]) -> None:
    ids = ids_by_name(client)
    page = client.get("/duplicates").text
    assert 'aria-current="page">Duplicates' in page
    kinds = re.findall(r'class="dup-group" data-kind="(\w+)"', page)
    assert kinds == ["exact", "near"]
    assert "KB" in text_of(page)  # sizes beside each other
    exact = page[page.index('data-kind="exact"'):page.index('data-kind="near"')]
    group = re.findall(r'name="group" value="([^"]+)"', exact)
    assert group == [ids["cat.jpg"], ids["cat-copy.jpg"]]
    # Without the CSRF token nothing is deleted.
    refused = client.post("/duplicates/keep", data={"keep": ids["cat-copy.jpg"], "group": group})
    assert refused.status_code == 403
    r = client.post("/duplicates/keep", data={"_csrf_token": csrf(client, "/duplicates"),
                                               "keep": ids["cat-copy.jpg"], "group": group},
                    follow_redirects=True)
    assert "Deleted 1 image." in text_of(r.text)
    left = ids_by_name(client)
    assert "cat-copy.jpg" in left
    assert "cat.jpg" not in left
