"""ImageRepository contract: lifecycle, quota, duplicates and search, the same on the fake, SQLite
and PostgreSQL (the analysis queue's contract is in test_analysis_queue.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagerepo.domain.colors import color_name, parse_hex
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded
from imagerepo.domain.images import Analysis, AnalysisResult, Color, Image, Tag
from imagerepo.domain.photos import Camera, Exposure, Location, PhotoInfo
from imagerepo.domain.queries import Cursor, ImageQuery, SortOrder, build_query
from imagerepo.domain.text import query_terms
from imagerepo.ports.image_repository import ImageRepository
from tests.search_reference import page_after, search_all

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def image(
    owner: str = "alice",
    sha: str | None = None,
    *,
    at: datetime = T0,
    filename: str = "photo.jpg",
    size: int = 1000,
    analysis: Analysis | None = None,
    photo: PhotoInfo | None = None,
) -> Image:
    return Image(
        id=str(uuid.uuid4()),
        owner_id=owner,
        filename=filename,
        content_type="image/jpeg",
        width=40,
        height=30,
        size_bytes=size,
        sha256=sha or uuid.uuid4().hex,
        uploaded_at=at,
        analysis=analysis or Analysis.pending("fake"),
        photo=photo,
    )


def done(
    description: str = "",
    tags: tuple[str, ...] = (),
    colors: tuple[tuple[str, float], ...] = (),
    text: str = "",
) -> Analysis:
    return Analysis.done(
        AnalysisResult(
            "fake",
            description,
            tuple(Tag(t, 0.9) for t in tags),
            tuple(Color(h, f, color_name(parse_hex(h))) for h, f in colors),  # named as an analyzer would
            text,
        ),
        T0,
    )


def stored(repo: Any, img: Image, quota: int = 1000) -> Image:
    repo.reserve(img, quota)
    repo.commit(img.id)
    return img


def every_page(repo: Any, query: ImageQuery, max_pages: int) -> list[Image]:
    """The images of ``query``'s pages, followed by their cursors (at most ``max_pages`` pages)."""
    seen: list[Image] = []
    for _ in range(max_pages):
        page = repo.search(query)
        seen += page.items
        if page.next_cursor is None:
            break
        query = attrs.evolve(query, cursor=page.next_cursor)
    return seen


def ids(page: Any) -> list[str]:
    return [i.id for i in page.items]


def test_fits_the_port(image_repo: Any) -> None:
    assert isinstance(image_repo, ImageRepository)


# ---------------------------------------------------------------- lifecycle


def test_uploading_counts_but_is_invisible(image_repo: Any) -> None:
    img = image()
    image_repo.reserve(img, 5)
    assert image_repo.count("alice") == 1
    assert image_repo.exists(img.id)
    assert image_repo.find_by_sha256("alice", img.sha256) == img.id
    assert image_repo.get("alice", img.id) is None
    assert ids(image_repo.search(ImageQuery("alice"))) == []


def test_committed_image_is_visible_and_reads_back_equal(image_repo: Any) -> None:
    img = image(
        at=datetime(2026, 3, 1, 12, 0, 0, 7, tzinfo=UTC),
        analysis=done("a dog", ("dog",), (("#1f6fb2", 0.4),), "HELLO"),
    )
    stored(image_repo, img)
    assert image_repo.get("alice", img.id) == img
    assert image_repo.search(ImageQuery("alice")).items == (img,)


def test_deleting_hides_frees_quota_and_allows_same_bytes_again(image_repo: Any) -> None:
    img = stored(image_repo, image(sha="same"))
    gone = image_repo.begin_delete("alice", img.id)
    assert gone == img
    assert image_repo.get("alice", img.id) is None
    assert image_repo.count("alice") == 0
    assert image_repo.find_by_sha256("alice", "same") is None
    assert ids(image_repo.search(ImageQuery("alice"))) == []
    assert image_repo.exists(img.id)
    assert image_repo.begin_delete("alice", img.id) is None  # already on its way out
    again = image(sha="same")
    image_repo.reserve(again, 1)  # the slot and the bytes are free again
    image_repo.discard(img.id)
    assert not image_repo.exists(img.id)


def test_discard_rolls_back_a_reservation(image_repo: Any) -> None:
    img = image()
    image_repo.reserve(img, 1)
    image_repo.discard(img.id)
    assert image_repo.count("alice") == 0
    assert not image_repo.exists(img.id)
    image_repo.discard(img.id)  # forgetting twice is harmless


def test_stale_lists_old_uploads_and_every_deletion(image_repo: Any) -> None:
    old = image(at=T0)
    new = image(at=T0 + timedelta(hours=1))
    ready = stored(image_repo, image(at=T0))
    doomed = stored(image_repo, image(at=T0 + timedelta(hours=2)))
    image_repo.reserve(old, 10)
    image_repo.reserve(new, 10)
    image_repo.begin_delete("alice", doomed.id)
    found = {
        (i.id, state) for i, state in image_repo.stale(T0 + timedelta(hours=3), T0 + timedelta(minutes=30))
    }
    assert found == {(old.id, "uploading"), (doomed.id, "deleting")}
    assert ready.id not in {i for i, _ in found}


# ---------------------------------------------------------------- quota, duplicates, isolation


def test_quota_counts_uploading_and_ready(image_repo: Any) -> None:
    stored(image_repo, image())
    image_repo.reserve(image(), 3)
    image_repo.reserve(image(), 3)
    with pytest.raises(QuotaExceeded) as err:
        image_repo.reserve(image(), 3)
    assert (err.value.used, err.value.limit) == (3, 3)
    assert image_repo.count("alice") == 3


def test_duplicate_bytes_name_the_existing_image(image_repo: Any) -> None:
    first = image(sha="abc")
    image_repo.reserve(first, 5)
    with pytest.raises(DuplicateImage) as err:
        image_repo.reserve(image(sha="abc"), 5)
    assert err.value.existing_id == first.id
    image_repo.commit(first.id)
    with pytest.raises(DuplicateImage):
        image_repo.reserve(image(sha="abc"), 5)
    image_repo.reserve(image("bob", sha="abc"), 5)  # another owner may store the same bytes
    assert image_repo.count("alice") == 1


def test_owners_are_isolated(image_repo: Any) -> None:
    mine = stored(image_repo, image("alice", analysis=done("sunset", ("sky",))))
    stored(image_repo, image("bob", analysis=done("sunset", ("sky",))))
    assert image_repo.get("bob", mine.id) is None
    assert image_repo.begin_delete("bob", mine.id) is None
    assert image_repo.request_analysis("bob", mine.id, T0) is None
    assert ids(image_repo.search(build_query("alice", q="sunset", tags=["sky"]))) == [mine.id]
    assert image_repo.count("alice") == 1
    assert image_repo.get("alice", mine.id) == mine


def hammer(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..n-1) on n threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as e:
            return e

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_reserves_never_exceed_the_quota(image_repo: Any) -> None:
    limit = 5
    stored(image_repo, image())
    results = hammer(16, lambda i: image_repo.reserve(image(), limit))
    errors = [r for r in results if r is not None]
    assert all(isinstance(e, QuotaExceeded) for e in errors), errors
    assert len(errors) == 16 - (limit - 1)
    assert image_repo.count("alice") == limit


def test_concurrent_identical_uploads_keep_one(image_repo: Any) -> None:
    results = hammer(8, lambda i: image_repo.reserve(image(sha="same"), 100))
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, DuplicateImage) for r in results if r is not None)
    assert image_repo.count("alice") == 1


def test_check_passes_on_a_reachable_database(image_repo: Any) -> None:
    image_repo.check()


# ------------------------------------------- search against the brute force in tests/search_reference.py

WORDS = ["dog", "dogs", "beach", "Beaches", "sunset", "red", "café", "naïve", "ruNNing", "run", "x1", "2026"]
TAGS = ["dog", "Beach", "sky", "tree", "person"]
HEXES = ["#1f6fb2", "#ff0000", "#00ff00", "#808080", "#fefefe", "#102030", "#1e70b0"]
NAMES = ["a.jpg", "A.jpg", "b.png", "dog.jpg", "red sunset 2026.png", "Zebra.gif", "éclair.webp", "ß.jpg", "SS.jpg",
         "img 2.png", "img10.png"]

analyses = st.one_of(
    st.just(Analysis.pending("fake")),
    st.builds(
        done,
        description=st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
        tags=st.lists(st.sampled_from(TAGS), max_size=3, unique=True).map(tuple),
        colors=st.lists(
            st.tuples(st.sampled_from(HEXES), st.sampled_from([0.01, 0.03, 0.2, 0.5, 0.97])), max_size=3
        ).map(tuple),
        text=st.lists(st.sampled_from(WORDS), max_size=2).map(" ".join),
    ),
)

PARIS = Location(48.8584, 2.2945, "Paris", "Île-de-France", "France", "FR")
SYDNEY = Location(-33.8568, 151.2153, "Sydney", "New South Wales", "Australia", "AU")
SAINT_PAUL = Location(44.9537, -93.09, "Saint Paul", "Minnesota", "United States", "US")
TAKEN = [
    datetime(2023, 6, 14, 18, 22, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2023, 6, 14, 16, 22, 5),  # naive: the same instant as the one above, read as UTC
    datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1999, 12, 31, 23, 59, 59),
    datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
    # Their own dates differ from their instants' UTC dates (plain-date bounds tell them apart).
    datetime(2023, 6, 15, 5, 0, tzinfo=timezone(timedelta(hours=9))),  # 2023-06-14T20:00Z
    datetime(2023, 6, 13, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # 2023-06-14T04:30Z
]
photos = st.none() | st.builds(
    PhotoInfo,
    taken_at=st.none() | st.sampled_from(TAKEN),
    camera=st.none() | st.just(Camera("Canon", "EOS R5", None)),
    exposure=st.none() | st.just(Exposure(iso=100, f_number=1.8)),
    location=st.none() | st.sampled_from([PARIS, SYDNEY, SAINT_PAUL]),
)

image_specs = st.lists(
    st.fixed_dictionaries(
        {
            "filename": st.sampled_from(NAMES)
            | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8),
            "size": st.integers(1, 4),
            "at": st.integers(0, 4).map(lambda s: T0 + timedelta(microseconds=s * 333_333)),
            "analysis": analyses,
            "photo": photos,
            "other_owner": st.booleans(),
        }
    ),
    max_size=14,
)

queries = st.fixed_dictionaries(
    {
        "q": st.lists(st.sampled_from([*WORDS, "be", "c", "d", "img", "zzz", "paris", "june", "2023", "syd"]),
                      max_size=2).map(" ".join),
        "tags": st.lists(st.sampled_from([t.casefold() for t in TAGS]), max_size=2, unique=True),
        "color": st.none() | st.sampled_from(HEXES),
        "sort": st.none() | st.sampled_from([s.value for s in SortOrder]),
        "limit": st.integers(1, 5),
        "place": st.none() | st.sampled_from(["paris", "fr", "france", "saint", "paul", "new south", "île", "zz"]),
        "taken_after": st.none()
        | st.sampled_from(["2023-06-14", "2023-06-14T16:22:05Z", "2023-06-14T18:22:05+02:00", "1999-12-31T23:59:59Z"]),
        "taken_before": st.none()
        | st.sampled_from(["2023-06-15", "2023-06-14T16:22:05Z", "2026-03-01T12:00:00+01:00"]),
    }
)


# The SQL planner's threshold (sql.search.DRIVE_BELOW): 0 walks the sort index probing filters;
# 10,000 lets rare filters drive; 1 makes every filter common, so several filters are intersected.
PLANNERS = st.sampled_from([0, 10_000, 1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=image_specs, raw=queries, walk=PLANNERS)
def test_search_pages_match_the_reference(
    image_repo: Any, specs: list[dict[str, Any]], raw: dict[str, Any], walk: int
) -> None:
    set_planner(image_repo, walk)
    owner, other = f"o-{uuid.uuid4()}", f"x-{uuid.uuid4()}"  # fresh owners: examples never meet
    ready = []
    for spec in specs:
        img = image(
            other if spec["other_owner"] else owner,
            filename=spec["filename"],
            size=spec["size"],
            at=spec["at"],
            analysis=spec["analysis"],
            photo=spec["photo"],
        )
        stored(image_repo, img)
        ready.append(img)
    image_repo.reserve(image(owner, analysis=done("dog beach")), 1000)  # uploading: never listed
    query = build_query(
        owner, q=raw["q"], tags=raw["tags"], color=raw["color"], sort=raw["sort"], limit=raw["limit"],
        place=raw["place"], taken_after=raw["taken_after"], taken_before=raw["taken_before"],
    )
    expected = search_all(ready, query)
    seen: list[Image] = []
    last: Image | None = None
    for _ in range(len(ready) + 2):
        page = image_repo.search(query)
        assert list(page.items) == page_after(ready, query, last)
        seen += page.items
        assert (page.next_cursor is None) == (len(seen) == len(expected))
        if page.next_cursor is None:
            break
        assert page.next_cursor.id == page.items[-1].id
        last = page.items[-1]
        # Through the wire form, as a client would send it back.
        token = page.next_cursor.encode(query)
        query = attrs.evolve(query, cursor=Cursor.decode(token, query))
    assert seen == expected


def set_planner(repo: Any, drive_below: int) -> None:
    if hasattr(repo, "drive_below"):
        repo.drive_below = drive_below


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=image_specs,
    raw=queries,
    walk=PLANNERS,
    changes=st.lists(
        st.tuples(st.sampled_from(["add", "delete"]), image_specs.map(lambda s: s[:1]), st.integers(0, 99)),
        max_size=6,
    ),
)
def test_pages_stay_consistent_while_images_come_and_go(
    image_repo: Any,
    specs: list[dict[str, Any]],
    raw: dict[str, Any],
    walk: int,
    changes: list[tuple[str, list[dict[str, Any]], int]],
) -> None:
    """Keyset pages: each page is the reference's page of the images present at that moment, no
    image is listed twice, and every image present throughout is listed once."""
    set_planner(image_repo, walk)
    owner, other = f"o-{uuid.uuid4()}", f"x-{uuid.uuid4()}"

    def make(spec: dict[str, Any]) -> Image:
        return image(
            other if spec["other_owner"] else owner,
            filename=spec["filename"],
            size=spec["size"],
            at=spec["at"],
            analysis=spec["analysis"],
            photo=spec["photo"],
        )

    present = {img.id: img for img in (stored(image_repo, make(spec)) for spec in specs)}
    throughout = set(present)
    query = build_query(
        owner, q=raw["q"], tags=raw["tags"], color=raw["color"], sort=raw["sort"], limit=raw["limit"],
        place=raw["place"], taken_after=raw["taken_after"], taken_before=raw["taken_before"],
    )
    seen: list[str] = []
    last: Image | None = None
    pending = list(changes)
    for _ in range(len(specs) + len(changes) + 2):
        page = image_repo.search(query)
        rest = page_after(present.values(), attrs.evolve(query, limit=10**6), last)
        assert list(page.items) == rest[: query.limit]
        assert (page.next_cursor is None) == (len(rest) <= query.limit)
        seen += ids(page)
        if page.next_cursor is None:
            break
        assert page.next_cursor.id == page.items[-1].id
        last = page.items[-1]
        query = attrs.evolve(query, cursor=Cursor.decode(page.next_cursor.encode(query), query))
        if pending:
            action, new, pick = pending.pop(0)
            if action == "add" and new:
                img = stored(image_repo, make(new[0]))
                present[img.id] = img
            elif action == "delete" and present:
                victim = list(present)[pick % len(present)]  # by insertion: ids are random
                image_repo.begin_delete(present[victim].owner_id, victim)
                del present[victim]
                throughout.discard(victim)
    assert len(seen) == len(set(seen))
    assert {i.id for i in search_all([present[k] for k in throughout], query)} <= set(seen)


@pytest.mark.parametrize("drive_below", [0, 1, 8, 16, 10_000])
@pytest.mark.parametrize("limit", [1, 2, 5])
def test_common_filters_page_alike_however_planned(image_repo: Any, drive_below: int, limit: int) -> None:
    """Two tags on most images, together on a few: a short walk of the first images (when it holds
    a page), a full walk or an intersection of the two tags' images give the reference's pages."""
    set_planner(image_repo, drive_below)
    owner = f"o-{uuid.uuid4()}"
    ready = []
    for n in range(40):
        tags = ("dog",) if n % 3 == 0 else ("tree",) if n % 3 == 1 else ("dog", "tree") if n % 9 < 5 else ()
        tags = ("dog", "tree") if n >= 34 else tags  # the newest hold both: a short walk finds a page
        at = T0 + timedelta(seconds=n)
        ready.append(stored(image_repo, image(owner, at=at, size=n % 4, analysis=done("a park", tags))))
    for sort in ("-uploaded_at", "size_bytes", "filename"):
        query = build_query(owner, q="park", tags=["dog", "tree"], sort=sort, limit=limit)
        assert every_page(image_repo, query, len(ready)) == search_all(ready, query)


@pytest.mark.parametrize("drive_below", [0, 1, 3, 10_000])
@pytest.mark.parametrize("limit", [1, 4])
def test_several_words_rank_alike_however_deep_the_walks(image_repo: Any, drive_below: int, limit: int) -> None:
    """Two words hit in tags, descriptions, text read, filenames and capture months in every mix
    (so every sum of field weights, through words with one stored term and with several): pages
    ranked by relevance are the reference's, whether each score level's walk is cut short (and
    grouping takes over) or not, with a tag filter too and through the cursor."""
    set_planner(image_repo, drive_below)
    owner = f"o-{uuid.uuid4()}"
    fields = [
        lambda w: {"tags": (w,)},
        lambda w: {"description": f"a {w}"},
        lambda w: {"text": w},
        lambda w: {"filename": f"{w}.jpg"},
        lambda w: {},
    ]
    ready = []
    for n in range(50):
        parts: dict[str, Any] = {"description": "", "tags": (), "text": "", "filename": "x.jpg"}
        for word, pick in (("sunset", n % 5), ("sunny", n // 5 % 5), ("june", n // 3 % 5)):
            for key, value in fields[pick](word).items():
                parts[key] = (*parts[key], *value) if key == "tags" else f"{parts[key]} {value}".strip()
        if n % 7 == 0:
            parts["tags"] = (*parts["tags"], "dog")
        taken = PhotoInfo(taken_at=datetime(2023, 6 if n % 4 else 7, 2, tzinfo=UTC))
        analysis = done(parts["description"], parts["tags"], text=parts["text"])
        img = image(owner, at=T0 + timedelta(seconds=n % 17), filename=parts["filename"], analysis=analysis,
                    photo=taken)
        ready.append(stored(image_repo, img))
    for q, tags in (("sun june", []), ("sunset sunny", []), ("sun 2023", ["dog"]), ("june sunset sunny", []),
                    ("sunset zzz", [])):
        query = build_query(owner, q=q, tags=tags, limit=limit)
        assert every_page(image_repo, query, len(ready) + 1) == search_all(ready, query), q


@pytest.mark.parametrize("limit", [1, 3, 7, 40])
def test_color_pages_match_the_reference_from_the_closest_to_the_cut_off(image_repo: Any, limit: int) -> None:
    """Colors at every distance from the query up to past the cut-off, with shares large and
    small, and images of several colors: paged by closeness (however many tiers a page skips or
    reads), the pages are the reference's."""
    owner = f"o-{uuid.uuid4()}"
    ready = []
    for n in range(60):
        step = n % 30  # blue (#2040d0) moving towards green, about 1.3 ΔE a step
        hex_ = f"#{0x20:02x}{0x40 + step:02x}{0xD0 - step:02x}"
        share = (1.0, 0.8, 0.5, 0.25, 0.1, 0.03)[n % 6]
        colors = ((hex_, share), ("#d02020", 1.0 - share)) if n % 4 else ((hex_, share),)
        at = T0 + timedelta(seconds=n % 7)
        ready.append(stored(image_repo, image(owner, at=at, analysis=done(colors=colors))))
    query = build_query(owner, color="#2040d0", limit=limit)
    seen = every_page(image_repo, query, len(ready) + 1)
    assert seen == search_all(ready, query)
    assert len(seen) > 20


def test_a_color_also_finds_palette_colors_of_its_basic_name_closest_first(image_repo: Any) -> None:
    """A color picker's pure blue lies far in CIELAB from the blues photos hold (ΔE 78 from a
    wallpaper that is 88% #0b45a3): it still finds every photo holding a color named blue (or
    navy), in distance order, pages included; a photo of green and brown only, or with its blue
    under COLOR_MIN_FRACTION, is not found (#00ff00 finds the greens, olive included). Neutral
    queries match by distance only: #808080 finds a mid gray, not a charcoal named gray (ΔE 30)."""
    owner = f"o-{uuid.uuid4()}"

    def photo(n: int, *colors: tuple[str, float]) -> Image:
        return stored(image_repo, image(owner, at=T0 + timedelta(seconds=n), analysis=done(colors=colors)))

    wallpaper = photo(0, ("#0b45a3", 0.88), ("#d0d0d0", 0.12))
    closer = photo(1, ("#3b5bdb", 0.5), ("#a0522d", 0.5))
    green = photo(2, ("#2e7d32", 0.6), ("#a0522d", 0.4))  # green and brown
    speck = photo(3, ("#0b45a3", 0.02), ("#2e7d32", 0.98))  # a speck of blue
    gray = photo(4, ("#8a8a8a", 0.7), ("#a0522d", 0.3))
    photo(5, ("#383838", 0.9), ("#d0d0d0", 0.1))  # charcoal: named gray, ΔE 30 from #808080
    navy = photo(6, ("#14204a", 0.9), ("#d0d0d0", 0.1))  # navy is said blue, ΔE 107 from #0000ff
    olive = photo(7, ("#6b8e23", 0.7), ("#a0522d", 0.3))  # olive is said green
    for limit in (1, 20):
        blue = every_page(image_repo, build_query(owner, color="#0000ff", limit=limit), 9)
        assert blue == [closer, wallpaper, navy]
    assert wallpaper in every_page(image_repo, build_query(owner, color="#1f6fb2"), 9)  # API.md's example
    assert {i.id for i in every_page(image_repo, build_query(owner, color="#00ff00"), 9)} == {
        green.id, speck.id, olive.id
    }
    assert every_page(image_repo, build_query(owner, color="#808080"), 9) == [gray]


def test_word_prefixes_stems_and_accents(image_repo: Any) -> None:
    a = stored(image_repo, image(filename="Café-Menu.JPG", analysis=done("Dogs running on beaches")))
    stored(image_repo, image(filename="other.png", analysis=done("a cat")))
    for q in ["dog", "run", "beach", "cafe", "menu jpg", "DOGS Running"]:
        assert ids(image_repo.search(build_query("alice", q=q))) == [a.id], q
    assert ids(image_repo.search(build_query("alice", q="dog cat"))) == []
    assert query_terms("running") == ["run"]



def test_synonyms_are_found_below_tags(image_repo: Any) -> None:
    """An analyzer's extra["keywords"] (the local analyzer's WordNet synonyms) match `q`, ranked
    below a tag hit; they are not tags."""
    result = AnalysisResult("fake", "", (Tag("tabby cat", 0.9), Tag("cat", 0.9)), (), "", {"keywords": ["kitty"]})
    synonym = stored(image_repo, image(analysis=Analysis.done(result, T0)))
    tagged = stored(image_repo, image(at=T0 - timedelta(days=1), analysis=done("", ("kitty",))))
    assert ids(image_repo.search(build_query("alice", q="kitty"))) == [tagged.id, synonym.id]
    assert ids(image_repo.search(build_query("alice", tags=["kitty"]))) == [tagged.id]

# ---------------------------------------------------------------- SQLite specifics


def all_versions(dialect: str) -> list[int]:
    from imagerepo.adapters.sql import migrations

    return [m.version for m in migrations.load(dialect)]


def test_sqlite_data_survives_reopening_the_file(tmp_path: Path) -> None:
    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository

    path = tmp_path / "db.sqlite3"
    db = SqliteDatabase(path)
    img = stored(SqliteImageRepository(db), image(analysis=done("dog", ("dog",))))
    db.close()
    reopened = SqliteDatabase(path)
    repo = SqliteImageRepository(reopened)
    assert repo.get("alice", img.id) == img
    assert ids(repo.search(build_query("alice", tags=["dog"]))) == [img.id]
    assert reopened.schema_versions() == all_versions("sqlite")
    reopened.close()


def test_sqlite_migrations_applied_once_when_processes_start_together(tmp_path: Path) -> None:
    from imagerepo.adapters.sqlite import SqliteDatabase

    path = tmp_path / "db.sqlite3"
    dbs = [SqliteDatabase(path) for _ in range(6)]
    results = hammer(6, lambda i: dbs[i].migrate())
    assert sorted(map(tuple, results)) == [(), (), (), (), (), tuple(all_versions("sqlite"))]
    assert dbs[0].schema_versions() == all_versions("sqlite")
    for db in dbs:
        db.close()


def test_sqlite_unreachable_file_is_service_unavailable(tmp_path: Path) -> None:
    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository
    from imagerepo.domain.errors import ServiceUnavailable

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    repo = SqliteImageRepository(SqliteDatabase(blocker / "db.sqlite3"))
    with pytest.raises(ServiceUnavailable):
        repo.check()


# ---------------------------------------------------------------- PostgreSQL specifics


@pytest.mark.integration
def test_postgres_migrations_applied_once_when_processes_start_together(postgres_dsn: str) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from imagerepo.adapters.postgres import PostgresDatabase

    name = f"imagerepo_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        dbs = [
            PostgresDatabase(make_conninfo(postgres_dsn, dbname=name), min_size=1, max_size=2)
            for _ in range(4)
        ]
        try:
            for db in dbs:
                db.open(migrate=False)  # the race below is the point
            results = hammer(4, lambda i: dbs[i].migrate())
            assert sorted(map(tuple, results)) == [(), (), (), tuple(all_versions("postgres"))]
            assert dbs[0].schema_versions() == all_versions("postgres")
            dbs[0].open()  # open() on a migrated database is a no-op migration
        finally:
            for db in dbs:
                db.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_unreachable_is_service_unavailable() -> None:
    pytest.importorskip("psycopg_pool")
    from imagerepo.adapters.postgres import PostgresDatabase, PostgresImageRepository
    from imagerepo.domain.errors import ServiceUnavailable

    db = PostgresDatabase("postgresql://postgres@127.0.0.1:9/none?connect_timeout=1", timeout=1.0)
    with pytest.raises(ServiceUnavailable):
        db.open()
    with pytest.raises(ServiceUnavailable):
        PostgresImageRepository(db).check()
    db.close()


# ------------------------------------------------------------------------- when and where (issue 14)

SNAP = PhotoInfo(TAKEN[0], Camera("Canon", "EOS R5", "RF 50mm"), Exposure(400, 2.8, 0.004, 50.0), PARIS)


def test_photo_information_reads_back_equal_with_its_offset(image_repo: Any) -> None:
    naive = stored(image_repo, image(photo=attrs.evolve(SNAP, taken_at=TAKEN[1], location=None)))
    aware = stored(image_repo, image(photo=SNAP))
    got = image_repo.get("alice", aware.id)
    assert got == aware
    assert got.taken_at.utcoffset() == timedelta(hours=2)
    assert image_repo.get("alice", naive.id).taken_at.tzinfo is None


def test_taken_order_puts_undated_images_after_dated_ones_both_ways(image_repo: Any) -> None:
    old = stored(image_repo, image(photo=PhotoInfo(TAKEN[3]), at=T0))
    new = stored(image_repo, image(photo=PhotoInfo(TAKEN[0]), at=T0 - timedelta(days=9)))
    undated_early = stored(image_repo, image(at=T0 - timedelta(days=1)))
    undated_late = stored(image_repo, image(photo=PhotoInfo(), at=T0 + timedelta(days=1)))
    newest = ids(image_repo.search(build_query("alice", sort="-taken_at")))
    oldest = ids(image_repo.search(build_query("alice", sort="taken_at")))
    assert newest == [new.id, old.id, undated_late.id, undated_early.id]
    assert oldest == [old.id, new.id, undated_early.id, undated_late.id]


def zoned(*fields: int, hours: float) -> datetime:
    return datetime(*fields, tzinfo=timezone(timedelta(hours=hours)))


def test_a_plain_date_bound_is_the_photos_own_calendar_day(image_repo: Any) -> None:
    """taken_after / taken_before as a plain date compare with the date the photo's page shows,
    its wall clock in its own offset; a date-time with an offset compares instants."""
    tokyo = stored(image_repo, image(photo=PhotoInfo(zoned(2023, 1, 1, 5, hours=9))))  # 2022-12-31T20:00Z
    new_york = stored(image_repo, image(photo=PhotoInfo(zoned(2022, 12, 31, 23, 30, hours=-5))))  # 01-01T04:30Z
    kiribati = stored(image_repo, image(photo=PhotoInfo(zoned(2023, 1, 1, hours=14))))  # 2022-12-31T10:00Z
    baker = stored(image_repo, image(photo=PhotoInfo(zoned(2022, 12, 31, 23, 59, 59, 999999, hours=-12))))
    naive = stored(image_repo, image(photo=PhotoInfo(datetime(2023, 1, 1))))  # its wall clock as is
    stored(image_repo, image(photo=PhotoInfo()))  # undated: in no range
    stored(image_repo, image())

    def found(**bounds: str) -> set[str]:
        return set(ids(image_repo.search(build_query("alice", limit=100, **bounds))))

    assert found(taken_after="2023-01-01") == {tokyo.id, kiribati.id, naive.id}
    assert found(taken_before="2023-01-01") == {new_york.id, baker.id}
    assert found(taken_after="2023-01-01", taken_before="2023-01-02") == {tokyo.id, kiribati.id, naive.id}
    assert found(taken_after="2022-12-31", taken_before="2023-01-01") == {new_york.id, baker.id}
    assert found(taken_after="2023-01-01T00:00:00Z") == {new_york.id, baker.id, naive.id}
    assert found(taken_before="2023-01-01T00:00:00Z") == {tokyo.id, kiribati.id}
    assert found(taken_after="2023-01-01T09:00:00+09:00") == {new_york.id, baker.id, naive.id}
    # One bound of each kind: on 1 Jan by its own clock, and before midnight UTC.
    assert found(taken_after="2023-01-01", taken_before="2023-01-01T00:00:00Z") == {tokyo.id, kiribati.id}
    # Paged through cursors, in capture order (instants).
    paged = every_page(image_repo, build_query("alice", sort="-taken_at", limit=1, taken_after="2023-01-01"), 9)
    assert [i.id for i in paged] == [naive.id, tokyo.id, kiribati.id]
    paged = every_page(image_repo, build_query("alice", sort="taken_at", limit=1, taken_before="2023-01-01"), 9)
    assert [i.id for i in paged] == [new_york.id, baker.id]


def test_a_photo_set_later_and_its_location_erased_keep_their_own_day(image_repo: Any) -> None:
    img = stored(image_repo, image())
    assert ids(image_repo.search(build_query("alice", taken_after="2023-01-01"))) == []
    image_repo.set_photo("alice", img.id, PhotoInfo(zoned(2023, 1, 1, 5, hours=9), location=PARIS))
    assert ids(image_repo.search(build_query("alice", taken_after="2023-01-01"))) == [img.id]
    image_repo.erase_locations("alice")
    assert ids(image_repo.search(build_query("alice", taken_after="2023-01-01"))) == [img.id]
    assert ids(image_repo.search(build_query("alice", taken_before="2023-01-01"))) == []


def test_set_photo_makes_the_place_and_month_searchable(image_repo: Any) -> None:
    img = stored(image_repo, image())
    assert ids(image_repo.search(build_query("alice", q="paris"))) == []
    assert image_repo.unread_photos("", 10) == [img]
    assert image_repo.set_photo("bob", img.id, SNAP) is None  # another owner's image
    image_repo.set_photo("alice", img.id, SNAP)
    assert image_repo.unread_photos("", 10) == []
    for q in ("paris", "june 2023", "france"):
        assert ids(image_repo.search(build_query("alice", q=q))) == [img.id], q
    assert ids(image_repo.search(build_query("alice", place="ile de france"))) == [img.id]
    assert ids(image_repo.search(build_query("alice", place="sydney"))) == []


def test_erasing_locations_forgets_positions_and_place_names(image_repo: Any) -> None:
    placed = stored(image_repo, image(photo=SNAP))
    plain = stored(image_repo, image(photo=attrs.evolve(SNAP, location=None)))
    uploading = image(photo=SNAP)
    image_repo.reserve(uploading, 1000)
    others = stored(image_repo, image("bob", photo=SNAP))
    assert image_repo.erase_locations("alice") == 2
    image_repo.commit(uploading.id)
    for img in (placed, plain, uploading):
        got = image_repo.get("alice", img.id)
        assert got.location is None
        assert got.taken_at == SNAP.taken_at
        assert got.camera == SNAP.camera
    assert ids(image_repo.search(build_query("alice", q="paris"))) == []
    assert ids(image_repo.search(build_query("alice", place="paris"))) == []
    assert image_repo.get("bob", others.id).location == PARIS
