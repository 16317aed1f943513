"""More like this and the Duplicates page in a real Chromium, at desktop and phone sizes (issue 15).

The browser server's analyzer runs without models, so it gives the perceptual hash but no
embedding: the test stores embeddings for its images the way analysis would (a cat, its burst
shot alike, a coffee cup apart), through the app's own fingerprint store.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from PIL import Image
from skimage import data as sk

from imagerepo.domain.similarity import Embedding, Fingerprint
from tests.browser.conftest import Server, Shots
from tests.browser.test_journey import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


CAT = Image.fromarray(sk.chelsea())
FILES = {
    "cat.jpg": jpeg(CAT),
    "cat-copy.jpg": jpeg(CAT.resize((CAT.width // 2, CAT.height // 2)), 65),
    "cat-burst.jpg": jpeg(CAT.crop((30, 10, 30 + int(CAT.width * 0.85), 10 + int(CAT.height * 0.85)))),
    "coffee.jpg": jpeg(Image.fromarray(sk.coffee())),
}


def vector(*spikes: tuple[int, float]) -> Embedding:
    values = [0.01] * 1280
    for i, v in spikes:
        values[i] = v
    return Embedding.of(values)


EMBEDDINGS = {
    "cat.jpg": vector((1, 1.0)),
    "cat-copy.jpg": vector((1, 1.0), (2, 0.05)),
    "cat-burst.jpg": vector((1, 1.0), (3, 0.3)),
    "coffee.jpg": vector((7, 1.0)),
}


def wait_for_analyses(server: Server) -> None:
    deadline = time.monotonic() + 60
    while server.container.analysis_service().pending() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("page_and_shots", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_more_like_this_and_the_duplicates_page(server: Server, page_and_shots: tuple[Any, Shots]) -> None:
    from playwright.sync_api import expect

    page, shot = page_and_shots
    phone = page.viewport_size["width"] < 500
    username = "phone_similar" if phone else "desk_similar"
    page.goto(server.url + "/signup")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))

    page.set_input_files("#file", [{"name": n, "mimeType": "image/jpeg", "buffer": d} for n, d in FILES.items()])
    expect(page.locator("#uploads li.ok")).to_have_count(4, timeout=15000)
    expect(page.locator("#uploads")).to_contain_text("cat-copy.jpg")
    wait_for_analyses(server)
    account = server.container.account_repository().get_by_username(username)
    ids = {}
    for image in server.container.image_service().images_of(account):
        ids[image.filename] = image.id
        server.container.fingerprint_repository().put(
            account.id, image.id, Fingerprint(embedding=EMBEDDINGS[image.filename]))

    # The gallery hides the re-saved copy on request.
    page.goto(server.url + "/gallery")
    expect(page.locator("#grid .card")).to_have_count(4)
    page.locator("#hide-copies").click()
    expect(page.locator("#hide-copies")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#grid .card")).to_have_count(3)
    expect(page.locator("#grid .card .filename", has_text="cat-copy.jpg")).to_have_count(0)
    shot("gallery-hidden-copies")

    # More like this on the cat's page: its copy and its burst first, never itself.
    page.goto(server.url + f"/images/{ids['cat.jpg']}")
    similar = page.locator("#more-like-this .similar .filename")
    expect(similar).to_have_count(3)
    expect(similar.nth(0)).to_have_text(re.compile(r"cat-(copy|burst)\.jpg"))
    expect(similar.nth(1)).to_have_text(re.compile(r"cat-(copy|burst)\.jpg"))
    expect(similar.nth(2)).to_have_text("coffee.jpg")
    page.locator("#more-like-this .similar a", has_text="cat-burst.jpg").click()
    expect(page.locator("h1.filename")).to_have_text("cat-burst.jpg")
    shot("more-like-this")

    # The Duplicates page: the copy with the original, the burst with the cat; keep the copy.
    page.get_by_role("link", name="Duplicates").click()
    expect(page).to_have_url(re.compile(r"/duplicates$"))
    groups = page.locator(".dup-group")
    expect(groups).to_have_count(2)
    exact = page.locator('.dup-group[data-kind="exact"]')
    expect(exact.locator(".dup-image .filename")).to_have_text(["cat.jpg", "cat-copy.jpg"])
    expect(exact.locator(".dup-image .facts").first).to_contain_text("KB")
    expect(page.locator('.dup-group[data-kind="near"] .dup-image .filename')).to_have_text(["cat.jpg", "cat-burst.jpg"])
    shot("duplicates")
    exact.locator(f'input[type=radio][value="{ids["cat-copy.jpg"]}"]').check()
    exact.get_by_role("button", name=re.compile("Keep the chosen one")).click()
    expect(page.locator(".notice")).to_have_text("Deleted 1 image.")
    expect(page.locator('.dup-group[data-kind="exact"]')).to_have_count(0)
    expect(page.locator('.dup-group[data-kind="near"] .dup-image .filename')).to_have_text(
        ["cat-copy.jpg", "cat-burst.jpg"])
    shot("duplicates-after")
