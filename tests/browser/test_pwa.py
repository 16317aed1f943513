"""The installable app in a real Chromium at 390×844: the manifest Chromium accepts, the service
worker active and caching the shell only, a share-target upload landing in the gallery, and another
site's POST to the share target uploading nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Server, Shots
from tests.browser.test_journey import PHONE, flat

pytestmark = pytest.mark.browser

# What the OS does on "Share → imagerepo": a multipart POST navigation to the manifest's action.
SHARE_FORM = """(action) => {
  const form = document.createElement("form");
  form.method = "post"; form.action = action; form.enctype = "multipart/form-data"; form.id = "os-share";
  const input = document.createElement("input");
  input.type = "file"; input.name = "file"; input.multiple = true; input.id = "os-share-file";
  form.appendChild(input); document.body.appendChild(form);
}"""


def quota_used(page: Any) -> int:
    return int(page.evaluate("fetch('/api/v1/me').then(r => r.json()).then(b => b.quota.used)"))


@pytest.mark.parametrize("page_and_shots", [PHONE], ids=["phone"], indirect=True)
def test_the_installable_app_and_its_share_target(server: Server, page_and_shots: tuple[Any, Shots]) -> None:
    from playwright.sync_api import expect

    page, shot = page_and_shots
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    page.goto(server.url + "/signup")
    page.get_by_label("Username", exact=True).fill("pwa_user")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/gallery$"))
    expect(page.locator("#camera")).to_have_attribute("capture", "environment")

    # The manifest as Chromium parses it, and Chromium's own installability verdict.
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == server.url + "/manifest.webmanifest"
    assert manifest["errors"] == []
    served = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert served["share_target"]["action"] == "/share"

    # The service worker registers, activates and controls the page after a reload.
    state = page.evaluate("navigator.serviceWorker.ready.then(r => r.active && r.active.state)")
    assert state in ("activating", "activated")
    page.wait_for_function("navigator.serviceWorker.ready.then(r => r.active.state === 'activated')")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # A Playwright context is off the record, which alone keeps Chromium from offering to install.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    shot("installable")

    # "Share → imagerepo": the photo lands in the gallery through the normal upload path.
    before = quota_used(page)
    page.evaluate(SHARE_FORM, "/share")
    page.set_input_files("#os-share-file", [{"name": "shared-red.png", "mimeType": "image/png",
                                             "buffer": flat((200, 30, 30), 77)}])
    page.evaluate("document.getElementById('os-share').submit()")
    expect(page.locator("#uploads li.ok")).to_contain_text("Uploaded.")
    expect(page.locator("#grid .card .filename").first).to_have_text("shared-red.png")
    assert quota_used(page) == before + 1
    shot("shared")

    # Nothing of the user's is in the service worker's cache: only the shell.
    cached = page.evaluate("""caches.keys().then(names => Promise.all(names.map(n => caches.open(n)
        .then(c => c.keys()).then(rs => rs.map(r => new URL(r.url).pathname))))).then(l => l.flat())""")
    assert cached
    assert [p for p in cached if not p.startswith(("/static/", "/icons/", "/manifest.webmanifest"))] == []

    assert console_errors == []

    # Another site's page posting a photo to the share target: the browser withholds the SameSite=Lax
    # session cookie and says cross-site; nothing is uploaded.
    evil = "http://evil.test/"
    page.context.route(evil + "**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>evil</title><body></body>"))
    page.goto(evil)
    page.evaluate(SHARE_FORM, server.url + "/share")
    page.set_input_files("#os-share-file", [{"name": "planted.png", "mimeType": "image/png",
                                             "buffer": flat((30, 200, 30), 78)}])
    with page.expect_navigation():
        page.evaluate("document.getElementById('os-share').submit()")
    expect(page.locator("h1")).to_have_text(re.compile("try again|Sign in", re.IGNORECASE))
    page.goto(server.url + "/gallery")
    assert quota_used(page) == before + 1
    expect(page.locator("#grid .card", has_text="planted.png")).to_have_count(0)
