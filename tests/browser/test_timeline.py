"""When and where in a real Chromium, at desktop size and at a 390×844 phone size: the gallery's
Taken timeline by month, a place search, and the detail page's facts (issue 14)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import images as img
from tests.browser.conftest import Server, Shots
from tests.browser.test_journey import DESKTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page_and_shots", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_the_timeline_and_a_place_search(server: Server, page_and_shots: tuple[Any, Shots]) -> None:
    from playwright.sync_api import expect

    page, shot = page_and_shots
    phone = page.viewport_size["width"] < 500
    salt = 7 if phone else 8
    page.goto(server.url + "/signup")
    page.get_by_label("Username", exact=True).fill("phone_when" if phone else "desk_when")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))

    shots = [
        {"name": "eiffel.jpg", "mimeType": "image/jpeg",
         "buffer": img.photo(taken="2023:06:14 18:22:05", color=(200, salt, 10))},
        {"name": "opera.jpg", "mimeType": "image/jpeg",
         "buffer": img.photo(taken="2022:01:05 09:00:00", offset=None, gps=(-33.8568, 151.2153),
                             color=(10, salt, 200))},
        {"name": "scan.png", "mimeType": "image/png", "buffer": img.png(color=(salt, 120, 40))},
    ]  # fmt: skip
    page.set_input_files("#file", shots)
    expect(page.locator("#uploads li.ok")).to_have_count(3, timeout=15000)

    page.goto(server.url + "/gallery")
    page.get_by_role("link", name="Taken", exact=True).click()
    expect(page).to_have_url(re.compile(r"/gallery\?view=taken$"))
    months = page.locator("#timeline .month h2")
    expect(months).to_have_text(["June 2023", "January 2022", "No date"])
    expect(page.locator("#timeline .month").nth(1).locator(".card .filename")).to_have_text("opera.jpg")
    shot("timeline")

    page.goto(server.url + "/search")
    page.get_by_label("Place").fill("sydney")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#grid .card .filename")).to_have_text(["opera.jpg"])
    shot("search-place")

    page.locator("#grid .card .filename a", has_text="opera.jpg").first.click()
    facts = page.locator(".photo-facts")
    expect(facts.locator(".taken")).to_have_text("5 Jan 2022, 09:00 +1100")  # the zone of Sydney in summer
    expect(facts.locator(".place")).to_contain_text("Sydney")
    expect(facts.locator(".camera")).to_contain_text("Canon EOS 5D Mark IV")
    expect(facts.locator(".exposure")).to_have_text("1/250 s · f/2.8 · 50 mm · ISO 400")
    shot("detail-facts")
