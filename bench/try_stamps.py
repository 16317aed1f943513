"""Experiment: the classifier's resize filter on every tuxpaint stamp (or, with ``gcompris``, every
photo of five GCompris folders) whose file name is a class or broader word: larger samples,
labeled by their file names only, than quality_labels.json's (which took in the real photos of the
tools and the farm and world animals later, as "gcompris2").

    PYTHONPATH=$PWD/src:$PWD python bench/try_stamps.py [gcompris]

Finding of issue 13's quality3 session: box resampling when enlarging (small stamps) lowered the
named subject's probability on 57 of 114 enlarged stamps and raised it on 18 (a magpie stamp
became a person); only for reductions is it no loss (4 up, 4 down here; 5 up, 3 down on GCompris).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench.try_framing import split
from PIL import Image

from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.local.vocabulary import labels, not_a_person, wordnet_table

B = Image.Resampling
ROOT = Path("/usr/share/tuxpaint/stamps")
GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")
# Folders of photos named for what they show.
FOLDERS = (
    "lang.rcc:gcompris/src/activities/lang/resource/words_sample",
    "categorization.rcc:gcompris/src/activities/categorization/resource/images/fishes",
    "categorization.rcc:gcompris/src/activities/categorization/resource/images/tools",
    "explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals",
    "explore_farm_animals.rcc:gcompris/src/activities/explore_farm_animals/resource/animals",
)


def photos() -> Iterator[tuple[str, bool, bytes]]:
    """(file stem, is an animal, bytes)."""
    if "gcompris" not in sys.argv:
        for path in sorted(ROOT.rglob("*.png")):
            yield path.stem, "animals" in path.parts, path.read_bytes()
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from qt_resources import files

    for folder in FOLDERS:
        bundle, _, inside = folder.partition(":")
        for name, data in files((GCOMPRIS / bundle).read_bytes()):
            if name.rpartition("/")[0] == inside and name.endswith((".jpg", ".jpeg", ".webp", ".png")):
                yield name.rpartition("/")[2].rpartition(".")[0], "animals" in folder, data


def main() -> None:
    clf = m.Classifier(m.default_weights())
    names = [n.lower() for n in labels()]
    _, rows = wordnet_table()
    variants = {
        "base": (B.BILINEAR, B.BILINEAR),
        "box": (B.BOX, B.BOX),
        "box_down": (B.BOX, B.BILINEAR),
        "box_down_bicubic_up": (B.BOX, B.BICUBIC),
        "box_down_hamming_up": (B.BOX, B.HAMMING),
    }
    mass: dict[str, list[float]] = {v: [] for v in variants}
    animal_doubt_low: dict[str, int] = dict.fromkeys(variants, 0)
    animals = 0
    upscaled: list[bool] = []
    for stem, is_animal, data in photos():
        stem = stem.lower().replace("-", "_")
        words = {stem.replace("_", " ")} | set(stem.split("_"))
        classes = [i for i in range(1000) if names[i] in words or words & set(rows[i].broader)]
        if not classes and not is_animal:
            continue
        rgb = decode(data).rgb
        upscaled.append(min(rgb.shape[:2]) < 224 / 0.875)
        animals += is_animal
        for v, (down, up) in variants.items():
            (p,) = clf.session.run(["probs"], {"image": split(rgb, down, up)[None]})
            p = p[0]
            mass[v].append(float(p[classes].sum()) if classes else float("nan"))
            if is_animal and not_a_person(p) < 0.25:
                animal_doubt_low[v] += 1
    base = np.array(mass["base"])
    ok = ~np.isnan(base)
    up = np.array(upscaled)
    named = int(ok.sum())
    print(f"{named} images named after a class or broader word ({int((ok & up).sum())} enlarged); {animals} animals")
    for v in variants:
        a = np.array(mass[v])
        line = f"{v:20} mass {np.nanmean(a):.4f}"
        for label, sel in (("upscaled", ok & up), ("reduced", ok & ~up)):
            ups, downs = int(np.sum(a[sel] > base[sel] + 0.01)), int(np.sum(a[sel] < base[sel] - 0.01))
            line += f" | {label}: up {ups} down {downs}"
        line += f" | animals with animal share < 0.25: {animal_doubt_low[v]}"
        print(line)


if __name__ == "__main__":
    main()
