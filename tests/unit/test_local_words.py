"""Tag words from WordNet: broader words only when true, synonyms that `q` finds."""

from __future__ import annotations

import importlib.resources
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.describe import describe
from imagerepo.adapters.local.vocabulary import broad_words, labels, tags_from_scores, wordnet_table
from imagerepo.domain.images import Color
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.photos import ERASE, LOMIRI, MONUMENTS, MUSIC, TUXPAINT, gcompris_photo, package_photo
from tests.wiring import memory_container

skimage_data = pytest.importorskip("skimage.data")

# WordNet 3.0 offsets, written out here so the test does not read them from the table it checks.
ANIMAL, MAMMAL, INSECT, VEHICLE = "00015388", "01861778", "02159955", "04524313"


def index_of(label: str) -> int:
    return labels().index(label)


@given(st.integers(0, 999))
def test_every_broader_word_is_a_true_wordnet_hypernym(i: int) -> None:
    broad, rows = wordnet_table()
    row = rows[i]
    assert row.wnid.startswith("n")
    assert len(row.wnid) == 9
    for word in row.broader:
        # True: one of the word's synsets is the class itself or one of its WordNet hypernyms.
        assert broad[word].synsets & (row.ancestors | {row.wnid[1:]}), (labels()[i], word)
    # And complete: every broader word whose synset is a hypernym is given.
    expected = {w for w, b in broad.items() if b.synsets & (row.ancestors | {row.wnid[1:]})}
    assert set(row.broader) | {labels()[i].lower()} >= expected


@given(st.integers(0, 999))
def test_a_class_named_otherwise_in_descriptions_keeps_its_label_words(i: int) -> None:
    """The description's name is one of the class's own WordNet names that contains the label
    (another of its names for the generator's few renamed labels), or the label with its nearest
    broader word, never a word from elsewhere."""
    from scripts.gen_wordnet_table import RENAME

    row, label = wordnet_table()[1][i], labels()[i]
    if not row.display:
        return
    assert row.display in row.keywords or row.display == f"{label} ({row.broader[0]})"
    if label not in RENAME:
        assert set(label.lower().split()) <= set(row.display.lower().replace("(", "").replace(")", "").split())


def described(label: str) -> tuple[str, list[str]]:
    """The description and tags of a photo the classifier is 0.9 sure shows ``label``."""
    words = tags_from_scores(one_hot((label, 0.9)))
    description = describe([Color(hex="#000000", fraction=1.0, name="black")], subject=words.subject)
    return description, [t.name for t in words.tags]


def test_a_label_naming_what_the_class_is_not_is_described_by_another_of_its_names() -> None:
    """A ring-tailed lemur is no cat, a solar collector no dish and this kite a bird; the label stays
    searchable."""
    for label, said in (("Madagascar cat", "A ring-tailed lemur"), ("solar dish", "A solar collector"),
                        ("ice bear", "A polar bear"), ("kite", "A kite (bird of prey)"),
                        ("sorrel", "A sorrel (horse)")):
        description, tags = described(label)
        assert description.startswith(said + ","), (label, description)
        assert label.lower() in tags


def test_a_label_that_means_something_else_first_is_described_by_its_full_name() -> None:
    """A monarch photo is "a monarch butterfly" (WordNet's first monarch is a sovereign); a cat is
    still "a tabby cat", and a search for the label still finds the photo."""
    for label, said in (("monarch", "A monarch butterfly"), ("liner", "An ocean liner"), ("organ", "A pipe organ"),
                        ("tabby cat", "A tabby cat"), ("church", "A church"), ("crane", "A crane (bird)")):
        description, tags = described(label)
        assert description.startswith(said + ","), (label, description)
        assert label.lower() in tags


def test_the_table_agrees_with_known_wordnet_facts() -> None:
    _, rows = wordnet_table()
    assert len(rows) == 1000
    assert len({r.wnid for r in rows}) == 1000
    assert rows[index_of("tabby cat")].wnid == "n02123045"
    for label in ("ladybug", "monarch", "admiral", "bee", "ant"):
        row = rows[index_of(label)]
        assert INSECT in row.ancestors
        assert ANIMAL in row.ancestors
        assert MAMMAL not in row.ancestors
        assert "mammal" not in row.broader
        assert {"insect", "animal"} <= set(row.broader)
    assert VEHICLE in rows[index_of("moped")].ancestors


def test_a_mosque_is_a_place_of_worship_never_a_church() -> None:
    for label in ("mosque", "stupa", "church"):
        tags = [t.name for t in tags_from_scores(one_hot((label, 0.9))).tags]
        assert {"place of worship", "building"} <= set(tags), (label, tags)
        assert ("church" in tags) == (label == "church"), (label, tags)


def test_an_amphibious_vehicle_is_a_vehicle_never_an_amphibian() -> None:
    """ImageNet calls the amphibious vehicle "amphibian"; a search for amphibians finds frogs only."""
    words = tags_from_scores(one_hot(("amphibious vehicle", 0.9)))
    assert "vehicle" in [t.name for t in words.tags]
    assert "amphibian" not in [t.name for t in words.tags] + words.keywords
    assert "amphibian" in [t.name for t in tags_from_scores(one_hot(("bullfrog", 0.9))).tags]


@pytest.mark.parametrize(
    ("label", "word"), [("macaw", "parrot"), ("drake", "duck"), ("gazelle", "antelope"), ("ibex", "goat")]
)
def test_animals_get_the_everyday_word_people_search_for(label: str, word: str) -> None:
    assert word in [t.name for t in tags_from_scores(one_hot((label, 0.9))).tags]


def test_an_insect_is_never_a_mammal() -> None:
    for i, words in enumerate(broad_words()):
        if "insect" in words:
            assert "mammal" not in words, labels()[i]
    assert {"butterfly", "insect", "animal"} <= set(broad_words()[index_of("monarch")])
    assert "mammal" not in broad_words()[index_of("monarch")]


def test_broader_words_are_nearest_first() -> None:
    assert broad_words()[index_of("tabby cat")] == ("cat", "mammal", "animal")
    assert broad_words()[index_of("sports car")][:2] == ("car", "vehicle")
    assert "horse" not in broad_words()[index_of("zebra")]  # an equine, not a horse


def one_hot(*pairs: tuple[str, float]) -> Any:
    probs = np.zeros(1000, dtype=np.float32)
    for label, p in pairs:
        probs[index_of(label)] = p
    return probs


def test_synonyms_of_tags_become_search_keywords() -> None:
    words = tags_from_scores(one_hot(("sports car", 0.7), ("convertible", 0.2)))
    names = [t.name for t in words.tags]
    assert {"sports car", "car", "vehicle"} <= set(names)
    assert {"automobile", "sport car"} <= set(words.keywords)
    assert not set(words.keywords) & set(names)
    cat = tags_from_scores(one_hot(("tabby cat", 0.4), ("tiger cat", 0.4)))
    assert "kitty" in cat.keywords
    assert "cat" in [t.name for t in cat.tags]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Any]]:
    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    settings = Settings(data_dir=tmp_path, workers=0)
    container = memory_container(settings, analyzer=LocalImageAnalyzer(nsfw=False))
    with TestClient(create_app(container)) as c:
        yield c, container


@pytest.mark.slow
def test_synonyms_and_broader_words_find_photos_through_the_api(client: tuple[TestClient[Any], Any]) -> None:
    c, container = client
    c.post("/api/v1/accounts", json={"username": "alice", "password": "correct horse"})
    token = c.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"}).json()["token"]
    c.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}

    def upload(arr: Any, name: str) -> str:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=90)
        r = c.post("/api/v1/images", files={"file": (name, buf.getvalue(), "image/jpeg")}, headers=auth)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    cat = upload(skimage_data.chelsea(), "a.jpg")
    coffee = upload(skimage_data.coffee(), "b.jpg")
    moto = Image.open(importlib.resources.files("skimage").joinpath("data", "motorcycle_left.png"))
    motorcycle = upload(np.asarray(moto.convert("RGB")), "c.jpg")
    while container.analysis_service().run_once():
        pass

    def found(q: str) -> list[str]:
        r = c.get("/api/v1/images", params={"q": q}, headers=auth)
        assert r.status_code == 200
        return [item["id"] for item in r.json()["items"]]

    assert found("kitty") == [cat]
    assert found("feline") == [cat]
    assert found("beverage") == [coffee]
    assert found("vehicle") == [motorcycle]  # a broader word
    assert found("motorbike") == [motorcycle]  # a synonym
    tags = {t["name"] for t in c.get(f"/api/v1/images/{cat}", headers=auth).json()["analysis"]["tags"]}
    assert "kitty" not in tags  # a synonym is searchable, not shown as a tag


def test_scene_words_need_a_confident_class() -> None:
    sure = {t.name for t in tags_from_scores(one_hot(("seashore", 0.8))).tags}
    assert {"beach", "sea", "water", "shore", "landscape"} <= sure
    unsure = {t.name for t in tags_from_scores(one_hot(("seashore", 0.3), ("volcano", 0.2))).tags}
    assert not unsure & {"beach", "sea", "water"}  # no tag rather than a wrong one


def test_a_confident_scene_says_where_unless_the_subject_already_does() -> None:
    beach = tags_from_scores(one_hot(("seashore", 0.8)))
    assert (beach.subject, beach.setting, beach.subject_is_setting) == ("seashore", "on a beach", True)
    dog = tags_from_scores(one_hot(("golden retriever", 0.5), ("seashore", 0.46)))
    assert (dog.subject, dog.setting, dog.subject_is_setting) == ("golden retriever", "on a beach", False)
    # A parachute's class gives "sky", and a street sign's "street": the subject says it already.
    assert tags_from_scores(one_hot(("parachute", 0.8))).setting is None
    assert tags_from_scores(one_hot(("street sign", 0.8))).setting is None
    assert tags_from_scores(one_hot(("seashore", 0.3), ("volcano", 0.2))).setting is None


def test_a_fine_tag_brings_its_broader_words_and_a_doubtful_one_nothing() -> None:
    names = {t.name for t in tags_from_scores(one_hot(("daisy", 0.45))).tags}
    assert {"daisy", "flower", "plant"} <= names
    # Less sure: the broader words stand (they sum their classes), the fine label is left out.
    names = {t.name for t in tags_from_scores(one_hot(("daisy", 0.35))).tags}
    assert {"flower", "plant"} <= names
    assert "daisy" not in names
    assert tags_from_scores(one_hot(("pick", 0.29), ("daisy", 0.05))).tags == []


@pytest.fixture(scope="module")
def analyzer() -> LocalImageAnalyzer:
    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    return LocalImageAnalyzer(nsfw=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["grasshopper.png", "mantis.png"])
def test_an_insect_photo_is_an_insect_and_an_animal_never_a_mammal(analyzer: LocalImageAnalyzer, name: str) -> None:
    result = analyzer.analyze(package_photo(TUXPAINT / "animals/insects" / name), "image/png")
    tags = {t.name for t in result.tags}
    assert {"insect", "animal"} <= tags
    assert "mammal" not in tags


@pytest.mark.slow
def test_a_flower_photo_is_a_plant(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(package_photo(TUXPAINT / "plants/flowers/anemone_red.png"), "image/png")
    assert {"flower", "plant"} <= {t.name for t in result.tags}


@pytest.mark.slow
@pytest.mark.parametrize(("photo", "word"), [("horse.webp", "horse"), ("kitten.webp", "cat"), ("toucan.webp", "bird")])
def test_a_real_animal_photo_gets_its_everyday_word(analyzer: LocalImageAnalyzer, photo: str, word: str) -> None:
    """GCompris' photos: ImageNet's sorrel, tabby and toucan classes bring WordNet's horse, cat and
    bird, the words people search with, into the tags and the sentence."""
    result = analyzer.analyze(gcompris_photo(ERASE + photo), "image/webp")
    assert word in {t.name for t in result.tags[:5]}
    assert "person" not in {t.name for t in result.tags}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("photo", "word"), [("statueOfLiberty.webp", "statue"), ("eiffelTower.webp", "tower"), ("jucheTower.webp", "tower")]
)
def test_what_stands_on_a_pedestal_or_rings_in_a_bell_cote_is_said(
    analyzer: LocalImageAnalyzer, photo: str, word: str
) -> None:
    """ImageNet has no statue and no tower: the classifier calls these a pedestal and a bell cote
    (WordNet: "a small bell tower"), whose photos show a statue and a tower."""
    result = analyzer.analyze(gcompris_photo(MONUMENTS + photo), "image/webp")
    assert word in {t.name for t in result.tags[:5]}


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["arcDeTriomphe.webp", "monument2.webp"])
def test_an_arch_is_a_monument(analyzer: LocalImageAnalyzer, photo: str) -> None:
    """GCompris' arc de triomphe du Carrousel and a Roman tetrapylon: WordNet files the triumphal
    arch under memorial/monument, the word people search with."""
    result = analyzer.analyze(gcompris_photo(MONUMENTS + photo), "image/webp")
    assert "monument" in {t.name for t in result.tags[:5]}
    assert "memorial" in result.extra["keywords"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("photo", "word"), [(ERASE + "bee.webp", "insect"), (MUSIC + "middleeast.webp", "musical instrument")]
)
def test_a_shrunk_photo_keeps_the_detail_that_names_it(analyzer: LocalImageAnalyzer, photo: str, word: str) -> None:
    """The classifier's input is shrunk with a box filter, not Pillow's blurring bilinear one: the
    bee on a quince blossom is then an insect and the Middle Eastern lute a musical instrument
    (with bilinear: a rose hip, and a broom), so searches for those words find them."""
    result = analyzer.analyze(gcompris_photo(photo), "image/webp")
    assert word in [t.name for t in result.tags]


@pytest.mark.slow
def test_a_mountain_photo_gets_landscape_words(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(package_photo(LOMIRI / "picosdeeuropa_by_Aitzol_Berasategi.jpg"), "image/jpeg")
    assert {"mountain", "landscape"} <= {t.name for t in result.tags}


def test_what_people_wear_comes_from_wordnet() -> None:
    from imagerepo.adapters.local.vocabulary import is_worn

    assert is_worn("suit")
    assert is_worn("jersey")
    assert is_worn("clothing")
    assert is_worn("cowboy hat")
    assert not is_worn("tabby cat")
    assert not is_worn("street sign")


def test_the_committed_table_is_what_the_generator_writes(tmp_path: Path) -> None:
    """No hand edits: scripts/gen_wordnet_table.py regenerates the table byte for byte from
    Debian's wordnet-base (scripts/ensure-photos.sh installs it)."""
    if not Path("/usr/share/wordnet/data.noun").is_file():
        pytest.fail("/usr/share/wordnet is missing: run scripts/ensure-photos.sh (Debian's wordnet-base)")
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "table.tsv"
    subprocess.run(
        [sys.executable, str(root / "scripts/gen_wordnet_table.py"), "--out", str(out)], check=True, capture_output=True
    )
    committed = root / "src/imagerepo/adapters/local/data/imagenet_wordnet.tsv"
    assert out.read_bytes() == committed.read_bytes()
