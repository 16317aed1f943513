"""People in a real Chromium, at desktop size and at a 390×844 phone size (issue 16): turn face
recognition on, upload two photos of the same astronaut, see her as one round face with a count,
name her in place, open her photos, see the named face box on the detail page, and turn it off."""

from __future__ import annotations

import importlib.resources
import io
import re
import time
from typing import Any

import pytest
from PIL import Image, ImageOps

from tests.browser.conftest import Server, Shots
from tests.browser.test_journey import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def astronaut(flipped: bool, salt: int) -> bytes:
    raw = importlib.resources.files("skimage").joinpath("data", "astronaut.png").read_bytes()
    im = Image.open(io.BytesIO(raw)).convert("RGB")
    if flipped:
        im = ImageOps.mirror(im)
    im.putpixel((0, 0), (salt, salt, salt))  # other bytes for each test: no duplicate refusal
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize("page_and_shots", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_people_are_found_named_and_shown(server: Server, page_and_shots: tuple[Any, Shots]) -> None:
    from playwright.sync_api import expect

    page, shot = page_and_shots
    phone = page.viewport_size["width"] < 500
    page.goto(server.url + "/signup")
    page.get_by_label("Username", exact=True).fill("phone_people" if phone else "desk_people")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))

    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_role("button", name="Turn on face recognition").click()
    expect(page.locator(".notice")).to_contain_text("Face recognition is on")
    shot("people-on")

    page.goto(server.url + "/gallery")
    page.set_input_files("#file", [
        {"name": "eileen.jpg", "mimeType": "image/jpeg", "buffer": astronaut(False, 1 if phone else 2)},
        {"name": "eileen-mirror.jpg", "mimeType": "image/jpeg", "buffer": astronaut(True, 1 if phone else 2)},
    ])
    expect(page.locator("#uploads li.ok")).to_have_count(2, timeout=15000)

    # Analysis and face finding run in the background: the People page shows her once both are done.
    deadline = time.monotonic() + 120
    while True:
        page.goto(server.url + "/people")
        if page.locator(".person .count", has_text="2 photos").count() == 1:
            break
        assert time.monotonic() < deadline, "the faces were never grouped"
        page.wait_for_timeout(1000)
    person = page.locator(".person").first
    expect(person.locator(".face img")).to_be_visible()
    radius = person.locator(".face img").evaluate("e => getComputedStyle(e).borderRadius")
    assert radius == "50%"
    shot("people")

    person.get_by_placeholder("Add a name").fill("Eileen")
    person.get_by_role("button", name="Save").click()
    expect(page.locator(".person").first.get_by_label("Name")).to_have_value("Eileen")

    page.locator(".person .count a").first.click()
    expect(page.locator("#person-name")).to_have_text("Eileen")
    expect(page.locator("#grid .card")).to_have_count(2)
    shot("person")

    page.locator("#grid .card .filename a", has_text="eileen.jpg").first.click()
    expect(page.locator(".face-boxes rect")).to_have_count(1)
    expect(page.locator(".face-boxes text")).to_have_text("Eileen")
    expect(page.locator(".face-names a")).to_have_text("Eileen")
    box = page.locator(".face-boxes").bounding_box()
    photo = page.locator(".face-frame img").bounding_box()
    assert box is not None
    assert photo is not None
    assert abs(box["width"] - photo["width"]) < 2
    assert abs(box["height"] - photo["height"]) < 2
    shot("detail-faces")

    # "Not Eileen": the face leaves her, and no later grouping gives it back.
    page.get_by_label("Who is it?").select_option(label="Not Eileen")
    page.get_by_role("button", name="Correct").click()
    expect(page.locator(".face-names li").first).to_contain_text("Not recognized yet")
    expect(page.locator(".face-boxes text")).to_have_text("1")
    shot("detail-not-her")
    # "This is Eileen" puts it back, for good.
    page.get_by_label("Who is it?").select_option(label="Eileen")
    page.get_by_role("button", name="Correct").click()
    expect(page.locator(".face-names a")).to_have_text("Eileen")

    page.goto(server.url + "/search")
    page.get_by_label("Words").fill("eileen")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#grid .card")).to_have_count(2)

    page.goto(server.url + "/people")
    page.get_by_role("button", name="Turn off face recognition and delete every face").click()
    expect(page.locator(".person")).not_to_have_count(0)  # the box is not ticked: the browser asks first
    page.get_by_label("I understand: every face, person and name is deleted for good.").check()
    page.get_by_role("button", name="Turn off face recognition and delete every face").click()
    expect(page.locator(".notice")).to_contain_text("Every face and person was deleted")
    expect(page.locator(".person")).to_have_count(0)
    page.goto(server.url + "/gallery")
    page.locator("#grid .card .filename a", has_text="eileen.jpg").first.click()
    expect(page.locator(".face-boxes")).to_have_count(0)
