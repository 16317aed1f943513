"""The web pages through Litestar's TestClient on the in-memory adapters: what a person sees and sends."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import FakeImageAnalyzer, InMemoryImageRepository, ManualClock
from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES
from imagerepo.domain.images import AnalysisResult, Color, Tag
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.wiring import memory_container

HOSTILE = "<img src=x onerror=alert(1)>.jpg"


@pytest.fixture
def analyzer() -> FakeImageAnalyzer:
    return FakeImageAnalyzer()


@pytest.fixture
def env(tmp_path: Path, analyzer: FakeImageAnalyzer) -> Iterator[tuple[TestClient[Any], Any]]:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=300_000, upload_quota=3)
    container = memory_container(settings, clock=ManualClock(), analyzer=analyzer)
    with TestClient(create_app(container)) as client:
        yield client, container


@pytest.fixture
def client(env: tuple[TestClient[Any], Any]) -> TestClient[Any]:
    return env[0]


def csrf(client: TestClient[Any], page: str = "/signin") -> str:
    r = client.get(page)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', r.text)
    assert match, page
    return match.group(1)


def sign_up(client: TestClient[Any], username: str = "alice", password: str = "correct horse") -> None:
    r = client.post("/signup", data={"_csrf_token": csrf(client, "/signup"), "username": username,
                                     "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/gallery"


def upload(client: TestClient[Any], *files: tuple[str, bytes, str]) -> Any:
    token = csrf(client, "/gallery")
    return client.post("/upload", data={"_csrf_token": token}, files=[("file", f) for f in files])


def text_of(html: str) -> str:
    """The page as a person reads it: tags stripped, entities decoded, spaces collapsed."""
    import html as h

    return " ".join(h.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def analyze_all(container: Any) -> None:
    while container.analysis_service().run_once():
        pass


# ---------------------------------------------------------------- accounts


def test_sign_up_page_shows_the_rules_as_hints(client: TestClient[Any]) -> None:
    page = text_of(client.get("/signup").text)
    for rule in (*USERNAME_RULES, *PASSWORD_RULES):
        assert rule in page


def test_a_bad_password_is_explained_next_to_the_field_and_the_username_is_kept(client: TestClient[Any]) -> None:
    r = client.post("/signup", data={"_csrf_token": csrf(client, "/signup"), "username": "alice",
                                     "password": "12345678"})
    assert r.status_code == 422
    assert 'value="alice"' in r.text
    assert "12345678" not in r.text  # the password is never echoed
    errors = re.search(r'<ul class="field-errors" id="password-errors">(.*?)</ul>', r.text, re.S)
    assert errors
    assert "must not be only digits" in errors.group(1)
    assert 'id="username-errors"' not in r.text
    assert client.get("/gallery", follow_redirects=False).status_code == 303  # nobody signed in


def test_a_taken_username_is_reported_on_the_username_field(client: TestClient[Any]) -> None:
    sign_up(client)
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    r = client.post("/signup", data={"_csrf_token": csrf(client, "/signup"), "username": "ALICE",
                                     "password": "another secret"})
    assert r.status_code == 409
    assert re.search(r'id="username-errors">.*already taken', r.text, re.S)


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    client.get("/signup")  # has the CSRF cookie, but the forged form lacks the token
    r = client.post("/signup", data={"username": "mallory", "password": "correct horse"})
    assert r.status_code == 403
    assert "This form has expired" in r.text
    assert container.account_repository().get_by_username("mallory") is None
    r = client.post("/signup", data={"username": "mallory", "password": "correct horse", "_csrf_token": "0" * 128})
    assert r.status_code == 403


def test_sign_in_sets_the_api_cookie_and_sign_out_revokes_it(client: TestClient[Any]) -> None:
    sign_up(client)
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    r = client.post("/signin", data={"_csrf_token": csrf(client), "username": "alice", "password": "wrong pass"})
    assert r.status_code == 401
    assert "Wrong username or password." in text_of(r.text)
    assert 'value="alice"' in r.text
    r = client.post("/signin", data={"_csrf_token": csrf(client), "username": "alice", "password": "correct horse",
                                     "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/gallery"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "imagerepo_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert client.get("/api/v1/me").json()["username"] == "alice"  # the same session serves the API
    token = client.cookies["imagerepo_session"]
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_demo_hint_appears_only_when_a_user_account_exists(client: TestClient[Any]) -> None:
    assert "demo account" not in client.get("/signin").text
    sign_up(client, "user", "demo password")
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    assert "demo account" in client.get("/signin").text


def test_pages_need_a_session_and_send_back_to_them_after_sign_in(client: TestClient[Any]) -> None:
    r = client.get("/search", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fsearch"
    assert 'name="next" value="/search"' in client.get(r.headers["location"]).text


# ---------------------------------------------------------------- gallery and uploads


def test_gallery_shows_quota_newest_first_with_description_as_alt(env: tuple[TestClient[Any], Any],
                                                                  analyzer: FakeImageAnalyzer) -> None:
    client, container = env
    beach = img.jpeg(color=(20, 90, 200))
    analyzer.table[hashlib.sha256(beach).hexdigest()] = AnalysisResult(
        analyzer="fake", description="a beach under a blue sky",
        tags=(Tag("beach", 0.9), Tag("sky", 0.8)), colors=(Color("#1f6fb2", 0.6, "blue"),))
    sign_up(client)
    assert "0 of 3 used" in text_of(client.get("/gallery").text)
    upload(client, ("first.png", img.png(), "image/png"))
    container.clock().advance(60)
    upload(client, ("beach.jpg", beach, "image/jpeg"))
    page = client.get("/gallery").text
    assert "2 of 3 used" in text_of(page)
    assert page.index("beach.jpg") < page.index("first.png")  # newest first
    assert "Analyzing" in page
    analyze_all(container)
    page = client.get("/gallery").text
    assert 'alt="a beach under a blue sky"' in page
    assert 'href="/search?tag=beach"' in page
    assert 'fill="#1f6fb2"' in page
    assert "#1f6fb2</code>" in page
    assert "Analyzing" not in page


def test_a_hostile_filename_and_description_are_shown_as_text(env: tuple[TestClient[Any], Any],
                                                              analyzer: FakeImageAnalyzer) -> None:
    client, container = env
    data = img.png(color=(1, 2, 3))
    analyzer.table[hashlib.sha256(data).hexdigest()] = AnalysisResult(
        analyzer="fake", description='"><script>alert(2)</script>', text="<b>read</b>",
        tags=(Tag("<svg onload=alert(3)>", 0.5),), colors=(Color("red;background:url(x)", 1.0, "red"),))
    sign_up(client)
    upload(client, (HOSTILE, data, "image/png"))
    analyze_all(container)
    image_id = re.search(r'id="card-([^"]+)"', client.get("/gallery").text).group(1)  # type: ignore[union-attr]
    for page in (client.get("/gallery").text, client.get(f"/images/{image_id}").text):
        assert "<img src=x" not in page
        assert "<script>alert" not in page
        assert "<svg onload" not in page
        assert "url(x)" not in page  # a malformed color never reaches an attribute
        assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    assert "&lt;b&gt;read&lt;/b&gt;" in client.get(f"/images/{image_id}").text


def test_upload_errors_are_plain_words(client: TestClient[Any]) -> None:
    sign_up(client)
    page = text_of(upload(client, ("notes.jpg", img.TEXT, "image/jpeg")).text)
    assert "This file is not an image" in page
    for i in range(3):
        upload(client, (f"p{i}.png", img.png(color=(i, 100, 100)), "image/png"))
    page = text_of(upload(client, ("p0.png", img.png(color=(0, 100, 100)), "image/png"),
                          ("p9.png", img.png(color=(9, 9, 9)), "image/png")).text)
    assert "You have reached your limit of 3 images — delete one to upload more." in page
    assert "3 of 3 used" in page
    page = text_of(upload(client, ("big.png", b"\x89PNG" + b"0" * 310_000, "image/png")).text)
    assert "This file is too large" in page


def test_duplicate_upload_is_named(client: TestClient[Any]) -> None:
    sign_up(client)
    upload(client, ("a.png", img.png(), "image/png"))
    page = upload(client, ("b.png", img.png(), "image/png")).text
    assert "You have already uploaded this exact image." in text_of(page)


# ---------------------------------------------------------------- search


def test_search_by_tag_color_words_and_pages(env: tuple[TestClient[Any], Any], analyzer: FakeImageAnalyzer) -> None:
    client, container = env
    alice_quota = 40
    sign_up(client)
    container.account_repository().set_quota_limit(
        container.account_repository().get_by_username("alice").id, alice_quota)
    colors = {"red": "#d02020", "blue": "#2040d0"}
    for i in range(30):
        name = "red" if i % 2 else "blue"
        data = img.png(color=(i, i, i))
        analyzer.table[hashlib.sha256(data).hexdigest()] = AnalysisResult(
            analyzer="fake", description=f"a {name} thing number {i}", tags=(Tag(name, 0.9),),
            colors=(Color(colors[name], 1.0, name),))
        upload(client, (f"{name}-{i}.png", data, "image/png"))
        container.clock().advance(1)
    analyze_all(container)

    page = client.get("/search", params={"tag": "red"}).text
    assert "red-29.png" in page
    assert "blue-" not in page
    next_url = re.search(r'<a class="button" rel="next" href="([^"]+)"', page)
    assert next_url is None  # 15 red images fit one page

    page = client.get("/search", params={"color": "#2244cc", "use_color": "1"}).text
    names = re.findall(r'<p class="filename"><a href="[^"]+">([^<]+)</a>', page)
    assert names
    assert all(n.startswith("blue-") for n in names)

    page = client.get("/search", params={"q": "thing", "sort": "filename"}).text
    first = re.findall(r'<p class="filename"><a href="[^"]+">([^<]+)</a>', page)
    assert first == sorted(first)
    assert len(first) == 24
    next_url = re.search(r'rel="next" href="([^"]+)"', page)
    assert next_url
    rest = re.findall(r'<p class="filename"><a href="[^"]+">([^<]+)</a>',
                      client.get(next_url.group(1).replace("&amp;", "&")).text)
    assert len(rest) == 6
    assert not set(rest) & set(first)

    bad = client.get("/search", params={"sort": "sideways"})
    assert bad.status_code == 200
    assert "sort: must be one of" in text_of(bad.text)


# ---------------------------------------------------------------- one image


def test_detail_reanalyze_and_delete_with_confirmation(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    sign_up(client)
    upload(client, ("cat.png", img.png(), "image/png"))
    analyze_all(container)
    image_id = re.search(r'id="card-([^"]+)"', client.get("/gallery").text).group(1)  # type: ignore[union-attr]
    detail = client.get(f"/images/{image_id}").text
    assert "Open the original" in detail
    assert "An image." in detail
    shown = re.search(r'<img src="([^"]+)"', detail).group(1)  # type: ignore[union-attr]
    r = client.get(shown, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == client.get(f"/api/v1/images/{image_id}").json()["url"]  # a fresh temporary URL

    token = csrf(client, f"/images/{image_id}")
    client.post(f"/images/{image_id}/analysis", data={"_csrf_token": token})
    assert "Analyzing" in client.get(f"/images/{image_id}").text

    confirm = client.get(f"/images/{image_id}/delete").text
    assert "Delete this image?" in confirm
    assert "cat.png" in confirm
    r = client.post(f"/images/{image_id}/delete", data={"_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/images/{image_id}").status_code == 404
    assert "0 of 3 used" in text_of(client.get("/gallery").text)


def test_another_users_image_is_not_found(client: TestClient[Any]) -> None:
    sign_up(client, "alice")
    upload(client, ("a.png", img.png(), "image/png"))
    image_id = re.search(r'id="card-([^"]+)"', client.get("/gallery").text).group(1)  # type: ignore[union-attr]
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    sign_up(client, "bob")
    for path in (f"/images/{image_id}", f"/images/{image_id}/delete", f"/images/{image_id}/card",
                 f"/images/{image_id}/thumbnail", f"/images/{image_id}/original", f"/images/{image_id}/view"):
        r = client.get(path)
        assert r.status_code == 404
        assert "There is no such image" in r.text
    r = client.post(f"/images/{image_id}/delete", data={"_csrf_token": csrf(client, "/gallery")})
    assert r.status_code == 404


# ---------------------------------------------------------------- headers


def test_pages_carry_a_strict_content_security_policy_and_api_responses_do_not_change(client: TestClient[Any]) -> None:
    csp = client.get("/signin").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "content-security-policy" not in client.get("/health/live").headers
    r = client.post("/api/v1/accounts", json={"username": "carol", "password": "correct horse"})
    assert r.status_code == 201  # the API needs no CSRF token: it is not a form
    assert client.get("/static/app.js").status_code == 200
    assert "<script>" not in client.get("/signin").text  # no inline script anywhere


def test_demo_password_is_shown_only_when_the_operator_enabled_the_demo(tmp_path: Any) -> None:
    from litestar.testing import TestClient

    from imagerepo.entrypoints.http.app import create_app
    from imagerepo.entrypoints.settings import Settings
    from tests.wiring import memory_container

    for enabled in (False, True):
        container = memory_container(Settings(data_dir=tmp_path, workers=0, demo=enabled))
        container.account_service().sign_up("user", "userPass")
        with TestClient(create_app(container)) as client:
            page = client.get("/signin").text
        assert "sign in as <strong>user</strong>" in page
        assert ("userPass" in page) == enabled


# ---------------------------------------------------------------- identity providers


def test_sign_in_page_has_one_button_per_identity_provider(tmp_path: Path) -> None:
    from imagerepo.domain.identity import OidcProviderConfig

    providers = (OidcProviderConfig(name="corp", issuer="https://idp.example", client_id="c", display_name="Corp SSO"),
                 OidcProviderConfig(name="git_lab", issuer="https://gitlab.example", client_id="g"))
    for configured in ((), providers):
        container = memory_container(Settings(data_dir=tmp_path, workers=0, oidc_providers=configured))
        with TestClient(create_app(container)) as client:
            page = client.get("/signin").text
            after = client.get("/signin", params={"next": "/search?tag=cat"}).text
        buttons = re.findall(r'<a class="button secondary provider" href="([^"]+)">([^<]+)</a>', page)
        if not configured:
            assert buttons == []
            assert "Or sign in with" not in page
            continue
        assert buttons == [("/api/v1/oidc/corp/login?return_to=%2Fgallery", "Sign in with Corp SSO"),
                           ("/api/v1/oidc/git_lab/login?return_to=%2Fgallery", "Sign in with Git Lab")]
        assert 'href="/api/v1/oidc/corp/login?return_to=%2Fsearch%3Ftag%3Dcat"' in after  # back where they were going


def test_the_provider_button_signs_in_and_lands_on_the_page_asked_for(tmp_path: Path) -> None:
    import httpx

    from imagerepo.domain.identity import OidcProviderConfig
    from tests.oidc_provider import OidcTestProvider

    with OidcTestProvider() as idp, httpx.Client(timeout=10) as http:
        config = OidcProviderConfig(name="corp", issuer=idp.issuer, client_id=idp.client_id,
                                    client_secret=idp.client_secret, display_name="Corp SSO")
        container = memory_container(Settings(data_dir=tmp_path, workers=0, oidc_providers=(config,)),
                                     http_client=http)
        with TestClient(create_app(container)) as client:
            signin = client.get("/search", follow_redirects=True).text  # sent to sign in, next=/search
            button = re.search(r'href="([^"]+)">Sign in with Corp SSO</a>', signin)
            assert button
            r = client.get(button.group(1).replace("&amp;", "&"), follow_redirects=False)
            assert r.status_code == 302
            assert r.headers["location"].startswith(idp.issuer)
            back = httpx.get(r.headers["location"], follow_redirects=False).headers["location"]
            parts = httpx.URL(back)
            r = client.get(f"{parts.path}?{parts.query.decode()}", follow_redirects=False)
            assert r.status_code == 303
            assert r.headers["location"] == "/search"
            assert "Your tags" not in client.get("/search").text  # signed in, with no images yet
            assert client.get("/search").status_code == 200


# ---------------------------------------------------------------- error pages


class BrokenImageRepository(InMemoryImageRepository):
    """Listing fails with a bug the app never anticipated (a programming error, not an outage)."""

    def search(self, query: Any) -> Any:
        raise RuntimeError("index exploded")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


def test_an_unexpected_error_shows_a_friendly_page_and_the_api_keeps_json(tmp_path: Path) -> None:
    container = memory_container(Settings(data_dir=tmp_path, workers=0), image_repository=BrokenImageRepository())
    records = Records()  # Litestar's logging set-up replaces the root handlers, so caplog would see nothing
    logging.getLogger("imagerepo").addHandler(records)
    try:
        check_pages_and_api(container)
    finally:
        logging.getLogger("imagerepo").removeHandler(records)
    # The operator gets the traceback.
    assert any("GET /gallery" in m and "index exploded" in m for m in records.messages)


def check_pages_and_api(container: Any) -> None:
    with TestClient(create_app(container)) as client:
        sign_up(client)
        page = client.get("/gallery", headers={"Accept": "text/html"})
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "Something went wrong on our side" in text_of(page.text)
        assert "index exploded" not in page.text  # no internals shown
        assert "script-src 'self'" in page.headers["content-security-policy"]
        api = client.get("/api/v1/images", headers={"Accept": "text/html"})
        assert api.status_code == 500
        assert api.json()["error"]["code"] == "internal_error"


def test_an_unknown_page_is_a_friendly_404_and_unknown_api_paths_stay_json(client: TestClient[Any]) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = client.get("/no-such-page", headers=browser)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in text_of(page.text)
    assert 'href="/static/app.css"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    api = client.get("/api/v1/no-such-thing", headers=browser)
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    assert client.get("/no-such-page").json()["error"]["code"] == "not_found"  # a script asking for anything
    wrong = client.get("/signout", headers=browser)  # the sign-out form posts; a typed URL gets a page
    assert wrong.status_code == 405
    assert "This page cannot be used that way" in text_of(wrong.text)


# ---------------------------------------------------------------- detail updates in place


def test_the_analysis_panel_is_the_detail_pages_analysis_alone(env: tuple[TestClient[Any], Any],
                                                               analyzer: FakeImageAnalyzer) -> None:
    client, container = env
    data = img.png(color=(9, 99, 199))
    analyzer.table[hashlib.sha256(data).hexdigest()] = AnalysisResult(
        analyzer="fake", description="a <blue> square", tags=(Tag("square", 0.9),),
        colors=(Color("#0963c7", 1.0, "blue"),))
    sign_up(client)
    upload(client, ("sq.png", data, "image/png"))
    image_id = re.search(r'id="card-([^"]+)"', client.get("/gallery").text).group(1)  # type: ignore[union-attr]
    detail = client.get(f"/images/{image_id}").text
    assert 'id="analysis-body" data-status="pending"' in detail
    assert "<script>" not in detail  # no inline script: the in-place update is static/app.js's
    pending = client.get(f"/images/{image_id}/panel")
    assert pending.text.startswith('<div id="analysis-body" data-status="pending"')
    assert "Analyzing" in pending.text
    analyze_all(container)
    panel = client.get(f"/images/{image_id}/panel")
    assert panel.status_code == 200
    assert panel.headers["cache-control"] == "no-store"
    assert 'data-status="done"' in panel.text
    assert 'data-alt="a &lt;blue&gt; square"' in panel.text  # the new alt text for the original, escaped
    assert 'href="/search?tag=square"' in panel.text
    assert "<html" not in panel.text
    assert "_csrf_token" not in panel.text  # the forms stay on the page, outside what is replaced
    # The fragment is what the full page shows once analysis is done.
    body = re.search(r'<div id="analysis-body".*?</dl>\s*</div>', client.get(f"/images/{image_id}").text, re.S)
    assert body
    assert body.group(0) == panel.text.strip()
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    sign_up(client, "bob")
    assert client.get(f"/images/{image_id}/panel").status_code == 404


# ---------------------------------------------------------------- your tags


def test_search_page_lists_your_tags_with_counts_that_filter_when_clicked(env: tuple[TestClient[Any], Any],
                                                                          analyzer: FakeImageAnalyzer) -> None:
    client, container = env
    specs = {"a.png": ("Dog", "beach"), "b.png": ("dog", "sky"), "c.png": ("dog",)}
    sign_up(client, "bob")
    bobs = img.png(color=(1, 1, 1))
    analyzer.table[hashlib.sha256(bobs).hexdigest()] = AnalysisResult(analyzer="fake", tags=(Tag("bobs-own", 0.9),))
    upload(client, ("bob.png", bobs, "image/png"))
    client.post("/signout", data={"_csrf_token": csrf(client, "/gallery")})
    sign_up(client)
    assert "Your tags" not in client.get("/search").text  # nothing to show yet
    for i, (name, tags) in enumerate(specs.items()):
        data = img.png(color=(i, 50, 50))
        analyzer.table[hashlib.sha256(data).hexdigest()] = AnalysisResult(
            analyzer="fake", tags=tuple(Tag(t, 0.9) for t in tags))
        upload(client, (name, data, "image/png"))
    analyze_all(container)

    def chips(html: str) -> list[tuple[str, str, str]]:
        section = re.search(r'<nav class="your-tags".*?</nav>', html, re.S)
        assert section
        return [(n, c, h.replace("&amp;", "&")) for h, n, c in re.findall(
            r'<a class="chip[^"]*" href="([^"]+)"[^>]*>([^<]+) <span class="count">(\d+)', section.group(0))]

    page = client.get("/search").text
    assert chips(page) == [("dog", "3", "/search?tag=dog"), ("beach", "1", "/search?tag=beach"),
                           ("sky", "1", "/search?tag=sky")]
    assert "bobs-own" not in page  # only this user's tags
    filtered = client.get("/search?q=&tag=dog").text
    assert sorted(re.findall(r'<p class="filename"><a href="[^"]+">([^<]+)</a>', filtered)) == ["a.png", "b.png",
                                                                                              "c.png"]
    got = chips(filtered)
    assert got[0] == ("dog", "3", "/search?q=")  # the chosen tag is marked and takes itself off again
    assert 'class="chip selected" href="/search?q=" aria-current="true"' in filtered
    assert got[1][:2] == ("beach", "1")
    assert sorted(parse_qsl(urlsplit(got[1][2]).query, keep_blank_values=True)) == [
        ("q", ""), ("tag", "beach"), ("tag", "dog")]  # narrows the search further
    narrowed = client.get(got[1][2]).text
    assert re.findall(r'<p class="filename"><a href="[^"]+">([^<]+)</a>', narrowed) == ["a.png"]


def test_a_form_upload_is_hashed_as_it_is_written_and_the_decode_is_handed_that_hash(
    env: tuple[TestClient[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, container = env
    inspector = container.inspector()
    real, handed = inspector.inspect, []

    def inspect(path: Path, *, sha256: str | None = None) -> Any:
        handed.append(sha256)
        return real(path, sha256=sha256)

    monkeypatch.setattr(inspector, "inspect", inspect)
    sign_up(client)
    data = img.jpeg(color=(5, 150, 60))

    r = upload(client, ("leaf.jpg", data, "image/jpeg"))

    assert r.status_code == 201, r.text
    truth = hashlib.sha256(data).hexdigest()
    assert handed[-1] == truth  # the validating decode takes the hash the form's copy computed
    alice = container.account_repository().get_by_username("alice")
    assert container.image_repository().find_by_sha256(alice.id, truth) is not None


def test_a_page_left_open_past_the_url_lifetime_still_loads_its_images(tmp_path: Path) -> None:
    """Pages link images through redirects that sign a fresh URL when the browser asks, so lazy
    thumbnails scrolled to after 30 minutes, and "Open the original", still work."""
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=3, url_ttl_seconds=60)
    with TestClient(create_app(memory_container(settings, clock=clock))) as client:
        sign_up(client)
        upload(client, ("cat.png", img.png(), "image/png"))
        gallery = client.get("/gallery").text
        image_id = re.search(r'id="card-([^"]+)"', gallery).group(1)  # type: ignore[union-attr]
        detail = client.get(f"/images/{image_id}").text
        links = [re.search(r'<img src="([^"]+)"[^>]*loading="lazy"', gallery).group(1),  # type: ignore[union-attr]
                 re.search(r'href="([^"]+)"[^>]*>Open the original', detail).group(1)]  # type: ignore[union-attr]
        clock.advance(3600)
        for link in links:
            r = client.get(link)  # follows the redirect
            assert r.status_code == 200, link
        assert client.get(links[1]).content == img.png()


def test_a_heic_photo_is_shown_by_its_thumbnail_and_its_original_stays_a_download(tmp_path: Path) -> None:
    """Browsers other than Safari cannot show HEIC: the detail page shows the JPEG thumbnail."""
    pillow_heif = pytest.importorskip("pillow_heif")
    import io

    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (20, 160, 60)).save(out, "HEIF")
    with TestClient(create_app(memory_container(Settings(data_dir=tmp_path, workers=0)))) as client:
        sign_up(client)
        upload(client, ("IMG_0001.HEIC", out.getvalue(), "image/heic"))
        image_id = re.search(r'id="card-([^"]+)"', client.get("/gallery").text).group(1)  # type: ignore[union-attr]
        shown = re.search(r'<img src="([^"]+)"', client.get(f"/images/{image_id}").text).group(1)  # type: ignore[union-attr]
        r = client.get(shown)
        assert r.status_code == 200
        assert Image.open(io.BytesIO(r.content)).format in ("JPEG", "WEBP", "PNG")
        assert client.get(f"/images/{image_id}/original").content == out.getvalue()


def test_the_upload_form_offers_and_names_every_accepted_format(client: TestClient[Any]) -> None:
    from imagerepo.adapters.codecs import accepted_content_types

    accepted = accepted_content_types()
    assert "image/heic" in accepted  # `make` installs pillow-heif
    sign_up(client)
    gallery = client.get("/gallery").text
    picker = re.search(r'<input id="file"[^>]*accept="([^"]+)"', gallery).group(1)  # type: ignore[union-attr]
    assert picker.split(",") == list(accepted)
    assert "HEIC" in text_of(gallery)
    assert "HEIC" in text_of(upload(client, ("notes.jpg", img.TEXT, "image/jpeg")).text)
    r = client.post("/api/v1/images", files={"file": ("notes.jpg", img.TEXT, "image/jpeg")})
    assert r.status_code == 415
    assert r.json()["error"]["details"]["accepted"] == list(accepted)
    assert "HEIC" in r.json()["error"]["message"]


def test_a_stale_page_link_says_so_and_never_claims_the_gallery_is_empty(client: TestClient[Any]) -> None:
    sign_up(client)
    upload(client, ("cat.png", img.png(), "image/png"))
    page = text_of(client.get("/gallery", params={"cursor": "xyz"}).text)
    assert "This link to a further page is out of date" in page
    assert "No images yet" not in page
    assert "Back to the first page" in page
    page = text_of(client.get("/search", params={"q": "cat", "cursor": "xyz"}).text)
    assert "out of date" in page
    assert "Nothing matches" not in page


def test_turning_face_recognition_off_is_asked_first(env: tuple[TestClient[Any], Any]) -> None:
    """It deletes every face and name: a post without the ticked box deletes nothing."""
    client, container = env
    sign_up(client)
    token = csrf(client, "/people")
    client.post("/people/settings", data={"_csrf_token": token, "face_recognition": "on"})
    alice = container.account_repository().get_by_username("alice")
    assert alice.settings.face_recognition
    r = client.post("/people/settings", data={"_csrf_token": token, "face_recognition": "off"})
    assert "Nothing was deleted: tick the box to confirm first." in text_of(r.text)
    assert container.account_repository().get(alice.id).settings.face_recognition
    client.post("/people/settings", data={"_csrf_token": token, "face_recognition": "off", "confirm": "yes"})
    assert not container.account_repository().get(alice.id).settings.face_recognition
