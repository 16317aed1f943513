"""The seed's whole journey in a real Chromium, at desktop size and at a 390×844 phone size."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import QUOTA, Server, Shots

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>.jpg"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def encode(array: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.asarray(array)).convert("RGB").save(out, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return out.getvalue()


def flat(rgb: tuple[int, int, int], salt: int) -> bytes:
    """A mostly flat color photo with a little noise, distinct per salt (so never a duplicate)."""
    rng = np.random.default_rng(salt)
    base = np.full((240, 320, 3), rgb, dtype=np.int16) + rng.integers(-6, 7, (240, 320, 3))
    return encode(np.clip(base, 0, 255).astype(np.uint8), "PNG")


def photos(salt: int) -> dict[str, tuple[bytes, str, tuple[str, ...]]]:
    """Real photos from scikit-image (made unique per journey by one changed pixel), and flat colors."""
    from skimage import data

    def photo(array: Any, fmt: str) -> bytes:
        a = np.array(array)
        a[0, 0] = (salt * 37) % 256
        return encode(a, fmt)

    return {
        "coffee.jpg": (photo(data.coffee(), "JPEG"), "image/jpeg", ("coffee", "cup")),
        HOSTILE: (photo(data.chelsea(), "JPEG"), "image/jpeg", ("cat", "animal")),
        "astronaut.png": (photo(data.astronaut(), "PNG"), "image/png", ("person", "astronaut")),
        "rocket.jpg": (photo(data.rocket(), "JPEG"), "image/jpeg", ("rocket", "sky")),
        "red.png": (flat((208, 32, 32), salt), "image/png", ("red",)),
        "blue.png": (flat((32, 64, 208), salt), "image/png", ("blue",)),
    }


def files(catalog: dict[str, tuple[bytes, str, tuple[str, ...]]], *names: str) -> list[dict[str, Any]]:
    return [{"name": n, "mimeType": catalog[n][1], "buffer": catalog[n][0]} for n in names]


def card_names(page: Any) -> list[str]:
    return [str(n) for n in page.locator("#grid .card .filename").all_inner_texts()]


@pytest.mark.parametrize("page_and_shots", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_the_whole_journey(server: Server, page_and_shots: tuple[Any, Shots]) -> None:
    from playwright.sync_api import expect

    page, shot = page_and_shots
    phone = page.viewport_size["width"] < 500
    username = "phone_user" if phone else "desk_user"
    password = "correct horse battery"
    catalog = photos(1 if phone else 2)
    for data, _, tags in catalog.values():
        server.tags[hashlib.sha256(data).hexdigest()] = tags
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # Sign up: a bad password first, explained next to the field; the username is kept.
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/signin"))
    expect(page.get_by_role("link", name="Sign in with Corp SSO")).to_have_attribute(
        "href", "/api/v1/oidc/corp/login?return_to=%2Fgallery")
    shot("signin")
    page.get_by_role("link", name="Create an account").click()
    expect(page.locator("#password-hint")).to_contain_text("not only digits")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("12345678")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-errors")).to_contain_text("Password must not be only digits")
    expect(page.get_by_label("Username", exact=True)).to_have_value(username)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    shot("signup-error")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))
    expect(page.locator("#quota")).to_have_text(f"0 of {QUOTA} used")

    # Upload three real photos at once: progress, then cards newest first, then analysis appears.
    page.set_input_files("#file", files(catalog, "coffee.jpg", HOSTILE, "astronaut.png"))
    expect(page.locator("#uploads li.ok")).to_have_count(3, timeout=15000)
    expect(page.locator("#grid .card")).to_have_count(3)
    expect(page.locator("#quota")).to_have_text(f"3 of {QUOTA} used")
    shot("uploaded")
    expect(page.locator('#grid .card[data-status="done"]')).to_have_count(3, timeout=15000)
    assert card_names(page) == ["astronaut.png", HOSTILE, "coffee.jpg"]
    cat = page.locator("#grid .card", has_text=HOSTILE)
    description = cat.locator(".description").inner_text()
    assert description
    expect(cat.locator("img")).to_have_attribute("alt", description)
    expect(cat.locator(".chips")).to_contain_text("cat")
    expect(cat.locator(".swatches code").first).to_have_text(re.compile(r"^#[0-9a-f]{6}$"))
    assert cat.locator("img").evaluate("i => i.complete && i.naturalWidth") > 0
    assert page.locator("img[src=x]").count() == 0
    page.reload()
    assert card_names(page) == ["astronaut.png", HOSTILE, "coffee.jpg"]
    shot("gallery")

    # Not an image, then the quota: the messages are plain words.
    page.set_input_files("#file", [{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"just some text\n"}])
    expect(page.locator("#uploads li.error")).to_contain_text("This file is not an image")
    page.set_input_files("#file", files(catalog, "rocket.jpg", "red.png", "blue.png"))
    expect(page.locator("#uploads li.error").last).to_contain_text(
        f"You have reached your limit of {QUOTA} images — delete one to upload more", timeout=15000)
    expect(page.locator("#quota")).to_have_text(f"{QUOTA} of {QUOTA} used")
    expect(page.locator("#grid .card")).to_have_count(5)
    shot("quota")

    # Search by tag (a chip on a card) and by color (the picker).
    expect(page.locator('#grid .card[data-status="done"]')).to_have_count(5, timeout=15000)
    page.locator("#grid .card", has_text=HOSTILE).get_by_role("link", name="cat").click()
    expect(page).to_have_url(re.compile(r"/search\?tag=cat$"))
    expect(page.locator("#grid .card")).to_have_count(1)
    expect(page.locator("#grid .card .filename")).to_have_text(HOSTILE)
    shot("search-tag")
    # "Your tags" on the search page: every tag of this user's images, with counts; a chip filters.
    page.goto(server.url + "/search")
    your_tags = page.get_by_role("navigation", name="Your tags")
    expect(your_tags.get_by_role("link", name="rocket 1 image")).to_be_visible()
    expect(your_tags.get_by_role("link")).to_have_count(len({t for n in ("coffee.jpg", HOSTILE, "astronaut.png",
                                                                         "rocket.jpg", "red.png")
                                                             for t in catalog[n][2]}))
    shot("your-tags")
    your_tags.get_by_role("link", name="rocket 1 image").click()
    expect(page).to_have_url(re.compile(r"/search\?tag=rocket$"))
    expect(page.locator("#grid .card .filename")).to_have_text("rocket.jpg")
    expect(your_tags.get_by_role("link", name="rocket 1 image")).to_have_attribute("aria-current", "true")
    page.goto(server.url + "/search")
    page.locator("#color").fill("#d02020")
    page.get_by_label("Match this color").check()
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#grid .card .filename").first).to_have_text("red.png")
    shot("search-color")

    # The detail page: the original, all analysis, re-analyze; then delete with confirmation.
    page.locator("#grid .card .filename a", has_text="red.png").first.click()
    expect(page.locator("h1")).to_have_text("red.png")
    assert page.locator(".original img").evaluate("i => i.complete && i.naturalWidth") == 320
    analyzer = server.container.analyzer()
    analyzer.hold()  # the analysis waits until the page has shown "Analyzing…"
    page.get_by_role("button", name="Analyze again").click()
    expect(page.locator("h1")).to_have_text("red.png")
    # A marker that a reload would wipe out, set while the analysis is still running.
    assert page.evaluate("window.notReloaded = true; document.getElementById('detail').dataset.status") == "pending"
    expect(page.locator("#analysis-body .status.pending")).to_contain_text("Analyzing")
    analyzer.release()
    expect(page.locator("#detail")).to_have_attribute("data-status", "done", timeout=15000)  # updated in place
    expect(page.locator("#analysis-live")).to_have_text("Analysis finished.")
    expect(page.locator(".analysis .chips")).to_contain_text("red")
    assert page.evaluate("window.notReloaded") is True
    description = page.locator("#analysis-body .description").inner_text()
    expect(page.locator(".original img")).to_have_attribute("alt", description)
    shot("detail")
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("h1")).to_have_text("Delete this image?")
    page.get_by_role("button", name="Delete for good").click()
    expect(page.locator(".notice")).to_have_text("The image was deleted.")
    expect(page.locator("#quota")).to_have_text(f"{QUOTA - 1} of {QUOTA} used")
    assert "red.png" not in card_names(page)

    # Drag and drop a photo onto the upload area: the freed slot is used again.
    dropped = page.evaluate_handle(
        """([b64, name]) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], name, {type: "image/png"}));
            return dt;
        }""", [base64.b64encode(catalog["blue.png"][0]).decode(), "blue.png"])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    expect(page.locator("#uploads li.ok")).to_have_count(1)
    expect(page.locator("#quota")).to_have_text(f"{QUOTA} of {QUOTA} used")

    # A mistyped address: a page in plain words, not the API's JSON.
    page.goto(server.url + "/galery")
    expect(page.locator("h1")).to_have_text("Page not found")
    page.get_by_role("link", name="Back to your images").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))

    # Sign out, back in: the data is still there.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin"))
    page.goto(server.url + "/gallery")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fgallery"))
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))
    assert card_names(page) == ["blue.png", "rocket.jpg", "astronaut.png", HOSTILE, "coffee.jpg"]
    shot("back")

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page scrolls sideways"
    assert dialogs == []  # the hostile filename never ran
    assert not [e for e in console_errors if "Content Security Policy" in e]
