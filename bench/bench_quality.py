"""How well the `local` analyzer names what people search for, on the labeled development set.

Runs LocalImageAnalyzer in this process on every photo of bench/quality_labels.json (real photos
shipped by packages: `make bench-quality` installs the Debian ones) and prints, per photo, what
it got wrong, then the summaries: of the first 53 photos (those without "added": comparable with
runs before the set grew), of the 76-photo set of step 11 (everything not added by a later batch),
of the real photos quality2 added (GCompris' animals, musicians and monuments, "added":
"quality2"), of those gcompris2 added (GCompris' farm and world animals, tools, renewable energy
and other objects, "added": "gcompris2"), of every photo but tuxpaint's drawn stamps and, last,
of the whole set:

    first 53 photos: bench quality subject=R/N ...
    step 11 set (N photos): bench quality subject=R/N ...
    real photos added by quality2 (N): bench quality subject=R/N ...
    real photos added by gcompris2 (N): bench quality subject=R/N ...
    without tuxpaint's drawn stamps (N photos): bench quality subject=R/N ...
    bench quality subject=R/N people_precision=P people_recall=R text_precision=P text_recall=R color=R/N

- subject: an accepted subject word is among the top-5 tags or in the description;
- people: "person" or "people" tagged, against the photos labeled with people (null: not scored);
- text: any text read; a reading counts as right when it holds a labeled word;
- color: the first color (extra["first_color"] when the analyzer gives one, else the first palette
  color) is one a person would name first.

Each photo is analyzed twice, alone and with the 480 px thumbnail the upload stores (made by the
production inspector) as its preview, as the analysis worker does; the preview's summaries come
first, marked `preview=1` (BENCH_QUALITY_PREVIEW=0 leaves them out), so that the last line is
always the whole set analyzed as uploaded. Where the preview
changes a photo's verdict, the photo's line says so.
"""

from __future__ import annotations

import importlib.resources
import json
import mimetypes
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qt_resources

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.images import AnalysisResult

LABELS = Path(__file__).with_name("quality_labels.json")
_PEOPLE_WORDS = {"person", "people", "man", "woman", "men", "women", "child", "boy", "girl"}


def photo_bytes(sources: dict[str, Any], photo: dict[str, Any]) -> bytes:
    source = sources[photo["package"]]
    if source["kind"] == "python":
        package, _, sub = source["root"].partition("/")
        return importlib.resources.files(package).joinpath(sub, photo["path"]).read_bytes()
    if source["kind"] == "qt-resource":  # a photo inside a Qt resource bundle (GCompris)
        bundle = Path(source["root"]) / photo["path"].partition(":")[0]
        if not bundle.is_file():
            sys.exit(f"{bundle} is missing: install Debian's {photo['package']} (sh scripts/ensure-photos.sh)")
        return qt_resources.read(Path(source["root"]), photo["path"])
    path = Path(source["root"]) / photo["path"]
    if not path.is_file():
        sys.exit(f"{path} is missing: install Debian's {photo['package']} (sh scripts/ensure-photos.sh)")
    return path.read_bytes()


def words_of(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def has_any(haystack: str, needles: list[str]) -> bool:
    return any(words_of(n) in haystack for n in needles)


def first_color(result: AnalysisResult) -> str:
    named = result.extra.get("first_color")
    if isinstance(named, str):
        return named
    return result.colors[0].name if result.colors else ""


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "n/a"


@dataclass
class Score:
    n: int = 0
    subject_ok: int = 0
    color_ok: int = 0
    people_tp: int = 0
    people_fp: int = 0
    people_fn: int = 0
    text_read: int = 0
    text_right: int = 0
    text_photos: int = 0

    def line(self) -> str:
        return (
            f"bench quality subject={self.subject_ok}/{self.n} "
            f"people_precision={ratio(self.people_tp, self.people_tp + self.people_fp)} "
            f"people_recall={ratio(self.people_tp, self.people_tp + self.people_fn)} "
            f"text_precision={ratio(self.text_right, self.text_read)} "
            f"text_recall={ratio(self.text_right, self.text_photos)} color={self.color_ok}/{self.n}"
        )


def score(photo: dict[str, Any], result: AnalysisResult, groups: list[Score]) -> list[str]:
    """Adds the photo's outcome to each group; returns what it got wrong."""
    top = [t.name for t in result.tags[:5]]
    seen = words_of(" ".join(top) + " " + result.description)
    problems: list[str] = []
    subject_ok = has_any(seen, photo["subject"])
    if not subject_ok:
        problems.append(f"subject: tags={top}")
    said = truth = False
    if photo["people"] is not None:
        said = bool({t.name for t in result.tags} & {"person", "people"}) or has_any(
            words_of(result.description), sorted(_PEOPLE_WORDS)
        )
        truth = photo["people"] > 0
        if said != truth:
            problems.append(f"people: said={said} truth={photo['people']}")
    read = right = False
    if photo["text"] is not None:
        read = bool(result.text.strip())
        right = read and bool(photo["text"]) and has_any(words_of(result.text), photo["text"])
        if read and not right:
            problems.append(f"text: read {result.text!r}")
        elif not read and photo["text"]:
            problems.append("text: nothing read")
    color = first_color(result)
    if color not in photo["color"]:
        problems.append(f"color: {color} (accepted {photo['color']})")
    for g in groups:
        g.n += 1
        g.subject_ok += subject_ok
        g.color_ok += color in photo["color"]
        if photo["people"] is not None:
            g.people_tp += said and truth
            g.people_fp += said and not truth
            g.people_fn += truth and not said
        if photo["text"] is not None:
            g.text_photos += bool(photo["text"])
            g.text_read += read
            g.text_right += right
    return problems


# The parts of the set a photo belongs to (groups_of): the first 53, the step 11 set, the real
# photos each later batch added, all, all but the drawn stamps.
GROUPS = ("first", "step 11", "quality2", "gcompris2", "all", "no stamps")
BATCHES = ("quality2", "gcompris2")


def groups_of(photo: dict[str, Any]) -> list[str]:
    """The groups a labeled photo counts in: all, the quality2, gcompris2 or step 11 part, the first
    53, no stamps."""
    added = photo.get("added")
    names = ["all", added if added in BATCHES else "step 11"]
    names += [] if added else ["first"]
    names += [] if photo["package"] == "tuxpaint-stamps-default" else ["no stamps"]
    return names


def thumbnail(inspector: PillowImageInspector, data: bytes) -> bytes:
    """The preview as the upload stores it (the thumbnail blob)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        return inspector.thumbnail(path).data


def summaries(scores: dict[str, Score], mark: str) -> None:
    """One line per part of the set; the whole set last, as the bare `bench quality` line."""
    print(f"first 53 photos{mark}: {scores['first'].line()}")
    print(f"step 11 set ({scores['step 11'].n} photos){mark}: {scores['step 11'].line()}")
    for added in BATCHES:
        print(f"real photos added by {added} ({scores[added].n}){mark}: {scores[added].line()}")
    print(f"without tuxpaint's drawn stamps ({scores['no stamps'].n} photos){mark}: {scores['no stamps'].line()}")
    if mark:
        print(f"all {scores['all'].n} photos{mark}: {scores['all'].line()}")
    else:
        print(scores["all"].line())


def main() -> int:
    labels = json.loads(LABELS.read_text())
    analyzer = LocalImageAnalyzer(nsfw=False)
    analyzer.warm_up()
    with_preview = os.environ.get("BENCH_QUALITY_PREVIEW", "1") != "0"
    inspector = PillowImageInspector()
    started = time.perf_counter()
    scores = {name: Score() for name in GROUPS}
    previewed = {name: Score() for name in GROUPS}
    for photo in labels["photos"]:
        data = photo_bytes(labels["sources"], photo)
        ctype = mimetypes.guess_type(photo["path"])[0] or "application/octet-stream"
        result = analyzer.analyze(data, ctype)
        group_names = groups_of(photo)
        problems = score(photo, result, [scores[name] for name in group_names])
        mark = "ok " if not problems else "-- "
        print(f"{mark}{photo['package']}:{photo['path']}: {result.description!r}")
        for p in problems:
            print(f"      {p}")
        if with_preview:
            small = analyzer.analyze(data, ctype, preview=thumbnail(inspector, data))
            changed = score(photo, small, [previewed[name] for name in group_names])
            if changed != problems:
                print(f"      with the preview: {small.description!r}")
                for p in changed:
                    print(f"        {p}")
    elapsed = time.perf_counter() - started

    print(f"{scores['all'].n} photos in {elapsed:.1f} s")
    if with_preview:
        summaries(previewed, " preview=1")
    summaries(scores, "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
