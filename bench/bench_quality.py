"""How well the `local` analyzer names what people search for, on the labeled development set.

Runs LocalImageAnalyzer in this process on every photo of bench/quality_labels.json (real photos
shipped by packages: `make bench-quality` installs the Debian ones) and prints, per photo, what
it got wrong, then one summary line:

    bench quality subject=R/N people_precision=P people_recall=R text_precision=P text_recall=R color=R/N

- subject: an accepted subject word is among the top-5 tags or in the description;
- people: "person" or "people" tagged, against the photos labeled with people (null: not scored);
- text: any text read; a reading counts as right when it holds a labeled word;
- color: the first color (extra["first_color"] when the analyzer gives one, else the first palette
  color) is one a person would name first.
"""

from __future__ import annotations

import importlib.resources
import json
import mimetypes
import re
import sys
import time
from pathlib import Path
from typing import Any

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.domain.images import AnalysisResult

LABELS = Path(__file__).with_name("quality_labels.json")
_PEOPLE_WORDS = {"person", "people", "man", "woman", "men", "women", "child", "boy", "girl"}


def photo_bytes(sources: dict[str, Any], photo: dict[str, Any]) -> bytes:
    source = sources[photo["package"]]
    if source["kind"] == "python":
        package, _, sub = source["root"].partition("/")
        return importlib.resources.files(package).joinpath(sub, photo["path"]).read_bytes()
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


def main() -> int:
    labels = json.loads(LABELS.read_text())
    analyzer = LocalImageAnalyzer(nsfw=False)
    analyzer.warm_up()
    n = subject_ok = color_ok = 0
    people_tp = people_fp = people_fn = 0
    text_read = text_right = text_photos = text_found = 0
    started = time.perf_counter()
    for photo in labels["photos"]:
        data = photo_bytes(labels["sources"], photo)
        ctype = mimetypes.guess_type(photo["path"])[0] or "application/octet-stream"
        result = analyzer.analyze(data, ctype)
        n += 1
        top = [t.name for t in result.tags[:5]]
        seen = words_of(" ".join(top) + " " + result.description)
        problems: list[str] = []
        if has_any(seen, photo["subject"]):
            subject_ok += 1
        else:
            problems.append(f"subject: tags={top}")
        if photo["people"] is not None:
            said = bool({t.name for t in result.tags} & {"person", "people"}) or has_any(
                words_of(result.description), sorted(_PEOPLE_WORDS)
            )
            truth = photo["people"] > 0
            people_tp += said and truth
            people_fp += said and not truth
            people_fn += truth and not said
            if said != truth:
                problems.append(f"people: said={said} truth={photo['people']}")
        if photo["text"] is not None:
            read = words_of(result.text)
            text_photos += bool(photo["text"])
            if result.text.strip():
                text_read += 1
                right = bool(photo["text"]) and has_any(read, photo["text"])
                text_right += right
                text_found += right
                if not right:
                    problems.append(f"text: read {result.text!r}")
            elif photo["text"]:
                problems.append("text: nothing read")
        color = first_color(result)
        if color in photo["color"]:
            color_ok += 1
        else:
            problems.append(f"color: {color} (accepted {photo['color']})")
        mark = "ok " if not problems else "-- "
        print(f"{mark}{photo['package']}:{photo['path']}: {result.description!r}")
        for p in problems:
            print(f"      {p}")
    elapsed = time.perf_counter() - started

    def ratio(a: int, b: int) -> str:
        return f"{a / b:.2f}" if b else "n/a"

    print(f"{n} photos in {elapsed:.1f} s")
    print(
        f"bench quality subject={subject_ok}/{n} people_precision={ratio(people_tp, people_tp + people_fp)} "
        f"people_recall={ratio(people_tp, people_tp + people_fn)} text_precision={ratio(text_right, text_read)} "
        f"text_recall={ratio(text_found, text_photos)} color={color_ok}/{n}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
