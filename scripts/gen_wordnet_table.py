"""Generate src/imagerepo/adapters/local/data/imagenet_wordnet.tsv from WordNet 3.0.

ImageNet-1k classes are WordNet noun synsets, listed in the classifier's output order as their
sorted ids (n + the synset's offset in data.noun). For each class this writes:

- ``broader``: the words of BROADER below that are true WordNet hypernyms of the class (the list
  decides which hypernyms people search with; WordNet decides which are true);
- ``keywords``: other names of the class (WordNet lemmas), for search; each broader word's own
  synonyms are on its ``broad`` line;
- ``ancestors``: every hypernym offset, so tests can check each broader word against WordNet;
- ``scene``: words for what photos of the class show around it (SCENE below; not hypernyms).
- ``display``: the name a description uses, when the label alone would mislead (see display_name).

Usage (WordNet from Debian's ``wordnet-base``; the class ids from the existing table, or from
timm's ``imagenet_synsets.txt`` for a first run)::

    apt-get install -y wordnet-base
    python scripts/gen_wordnet_table.py [--wordnet /usr/share/wordnet] [--synsets FILE]

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved (license: see
/usr/share/doc/wordnet-base/copyright; credited in README.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src/imagerepo/adapters/local/data"
OUT = DATA / "imagenet_wordnet.tsv"

# (tag, WordNet senses "lemma.n.N" whose hyponyms get the tag, search synonyms). Each synonym
# must be a WordNet lemma of one of the senses, of a hyponym or of a hypernym (checked below).
BROADER: list[tuple[str, list[str], list[str]]] = [
    ("person", ["person.n.01"], ["individual", "someone", "somebody"]),
    ("animal", ["animal.n.01"], ["creature", "fauna"]),
    ("mammal", ["mammal.n.01"], []),
    ("bird", ["bird.n.01"], []),
    ("bird of prey", ["bird_of_prey.n.01"], ["raptor"]),
    ("parrot", ["parrot.n.01"], []),
    ("duck", ["duck.n.01"], []),
    ("antelope", ["antelope.n.01"], []),
    ("goat", ["goat.n.01"], []),
    ("poultry", ["domestic_fowl.n.01"], ["chicken"]),
    ("fish", ["fish.n.01"], []),
    ("shark", ["shark.n.01"], []),
    ("reptile", ["reptile.n.01"], []),
    ("snake", ["snake.n.01"], ["serpent"]),
    ("lizard", ["lizard.n.01"], []),
    ("turtle", ["turtle.n.02"], ["tortoise"]),
    ("amphibian", ["amphibian.n.03"], []),
    ("frog", ["frog.n.01"], ["toad"]),
    ("insect", ["insect.n.01"], ["bug"]),
    ("butterfly", ["butterfly.n.01"], []),
    ("beetle", ["beetle.n.01"], []),
    ("spider", ["spider.n.01"], ["arachnid"]),
    ("crab", ["crab.n.01"], []),
    ("crustacean", ["crustacean.n.01"], []),
    ("dog", ["dog.n.01"], ["pooch", "doggy", "puppy", "canine"]),
    ("cat", ["cat.n.01"], ["kitty", "pussycat", "feline"]),
    ("big cat", ["big_cat.n.01"], []),
    ("wolf", ["wolf.n.01"], []),
    ("fox", ["fox.n.01"], []),
    ("bear", ["bear.n.01"], []),
    ("monkey", ["monkey.n.01"], []),
    ("ape", ["ape.n.01"], []),
    ("primate", ["primate.n.02"], []),
    ("horse", ["horse.n.01"], ["pony"]),
    ("cattle", ["bovine.n.01"], ["cow", "ox"]),
    ("sheep", ["sheep.n.01"], []),
    ("rodent", ["rodent.n.01"], []),
    ("whale", ["whale.n.02"], []),
    ("vehicle", ["vehicle.n.01"], ["conveyance", "transport"]),
    ("car", ["car.n.01"], ["automobile", "auto", "motorcar"]),
    ("truck", ["truck.n.01"], ["lorry"]),
    ("bus", ["bus.n.01"], ["coach", "autobus"]),
    ("bicycle", ["bicycle.n.01"], ["bike", "cycle"]),
    ("motorcycle", ["motorcycle.n.01", "motor_scooter.n.01"], ["motorbike", "scooter", "moped"]),
    ("train", ["train.n.01", "locomotive.n.01", "streetcar.n.01"], ["locomotive", "tram"]),
    ("boat", ["boat.n.01", "ship.n.01", "vessel.n.02"], ["ship", "vessel"]),
    ("aircraft", ["aircraft.n.01"], ["airplane", "plane", "aeroplane"]),
    ("food", ["food.n.01", "food.n.02"], []),
    ("drink", ["beverage.n.01"], ["beverage"]),
    ("fruit", ["edible_fruit.n.01", "fruit.n.01"], []),
    ("vegetable", ["vegetable.n.01"], []),
    ("dish", ["dish.n.02"], []),
    ("plant", ["plant.n.02"], ["flora"]),
    ("flower", ["flower.n.01", "flower.n.02"], ["bloom", "blossom"]),
    ("mushroom", ["fungus.n.01"], ["fungus"]),
    ("building", ["building.n.01"], ["edifice"]),
    ("house", ["house.n.01", "dwelling.n.01"], ["home"]),
    ("furniture", ["furniture.n.01"], []),
    ("musical instrument", ["musical_instrument.n.01"], ["instrument"]),
    ("clothing", ["clothing.n.01"], ["clothes", "garment", "apparel"]),
    ("shoe", ["footwear.n.02"], ["footwear"]),
    ("hat", ["headdress.n.01"], ["headdress", "cap"]),
    ("bag", ["bag.n.04", "bag.n.01"], []),
    ("computer", ["computer.n.01"], []),
    ("phone", ["telephone.n.01"], ["telephone"]),
    ("screen", ["screen.n.03", "display.n.06"], ["display", "monitor"]),
    ("electronic device", ["electronic_equipment.n.01"], []),
    ("tool", ["tool.n.01"], []),
    ("weapon", ["weapon.n.01"], []),
    ("toy", ["plaything.n.01"], ["plaything"]),
    ("ball", ["ball.n.01"], []),
    ("sports equipment", ["sports_equipment.n.01"], []),
    ("kitchenware", ["kitchen_utensil.n.01", "cooking_utensil.n.01"], ["utensil", "cookware"]),
    ("container", ["vessel.n.03"], []),
    ("clock", ["clock.n.01"], ["timepiece"]),
    ("watch", ["watch.n.01"], ["wristwatch"]),
    ("coffee", ["coffee.n.01"], []),
    ("elephant", ["elephant.n.01"], []),
    ("pig", ["swine.n.01"], ["hog", "swine", "boar"]),
    ("rabbit", ["rabbit.n.01"], ["bunny"]),
    ("rocket", ["rocket.n.01", "missile.n.01", "projectile.n.01"], ["missile"]),
    ("spacecraft", ["spacecraft.n.01"], ["spaceship"]),
    ("landscape", ["geological_formation.n.01"], []),
    ("mountain", ["mountain.n.01"], []),
    ("shore", ["shore.n.01"], ["coast"]),
    ("bridge", ["bridge.n.01"], []),
    ("monument", ["monument.n.01"], ["memorial"]),
    ("sign", ["street_sign.n.01", "signboard.n.01"], ["signboard"]),
    ("book", ["book.n.01", "book.n.02"], []),
    ("bottle", ["bottle.n.01"], []),
    ("cup", ["cup.n.01"], []),
    ("chair", ["chair.n.01"], ["seat"]),
    ("table", ["table.n.02"], []),
    ("bed", ["bed.n.01"], []),
    ("coat", ["coat.n.01"], ["jacket"]),
    ("swimwear", ["swimsuit.n.01"], ["swimsuit", "bikini"]),
    ("gun", ["gun.n.01"], ["firearm"]),
    ("shop", ["shop.n.01", "mercantile_establishment.n.01"], ["store"]),
    ("place of worship", ["place_of_worship.n.01"], ["temple"]),  # never "church" for a mosque
    ("castle", ["castle.n.02"], []),
    ("tent", ["tent.n.01"], []),
    ("keyboard", ["keyboard.n.01"], []),
    ("guitar", ["guitar.n.01"], []),
    ("piano", ["piano.n.01"], []),
    ("drum", ["drum.n.01"], []),
    ("television", ["television_receiver.n.01"], ["tv"]),
]


# Words for the scene, not hypernyms: what a photo of the class shows around it ("seashore" ->
# beach, sea, water). Curated per class (never a range); used only with a high confidence.
SCENE: dict[str, list[str]] = {
    "seashore.n.01": ["beach", "sea", "water"],
    "sandbar.n.01": ["beach", "water"],
    "lakeside.n.01": ["lake", "water"],
    "promontory.n.01": ["sea", "water"],
    "coral_reef.n.01": ["sea", "underwater", "water"],
    "geyser.n.01": ["water"],
    "breakwater.n.01": ["sea", "water"],
    "dock.n.05": ["water", "harbor"],
    "boathouse.n.01": ["water", "lake"],
    "alp.n.01": ["snow"],
    "valley.n.01": ["mountain"],
    "ski.n.01": ["snow"],
    "snowmobile.n.01": ["snow"],
    "dogsled.n.01": ["snow"],
    "snowplow.n.01": ["snow"],
    "pot.n.04": ["plant"],
    "greenhouse.n.01": ["plant"],
    "rapeseed.n.01": ["flower", "field"],
    "hay.n.01": ["field"],
    "balloon.n.01": ["sky"],
    "airship.n.01": ["sky"],
    "parachute.n.01": ["sky"],
    "street_sign.n.01": ["street", "city"],
    "traffic_light.n.01": ["street", "city"],
    "streetcar.n.01": ["street", "city"],
    "cab.n.03": ["street", "city"],
    "parking_meter.n.01": ["street", "city"],
    "dining_table.n.01": ["interior", "room"],
    "home_theater.n.01": ["interior", "room"],
    "library.n.05": ["interior", "room"],
    "studio_couch.n.01": ["interior", "room"],
    "wardrobe.n.01": ["interior", "room"],
    "bookcase.n.01": ["interior", "room"],
    "restaurant.n.01": ["interior"],
    "four-poster.n.01": ["interior", "bedroom"],
    "pedestal.n.03": ["statue"],  # what stands on one in a photo
    "bell_cote.n.01": ["tower"],  # WordNet's gloss: "a small bell tower"
}


def parse_index(wordnet: Path) -> dict[str, list[str]]:
    """lemma -> synset offsets in sense order (index.noun)."""
    senses: dict[str, list[str]] = {}
    for line in (wordnet / "index.noun").read_text("latin-1").splitlines():
        if line.startswith(" "):
            continue
        f = line.split()
        p_cnt = int(f[3])
        synset_cnt = int(f[2])
        senses[f[0]] = f[4 + p_cnt + 2 :][:synset_cnt]
    return senses


def parse_data(wordnet: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """offset -> lemmas, offset -> hypernym offsets (class and instance hypernyms)."""
    lemmas: dict[str, list[str]] = {}
    hypernyms: dict[str, list[str]] = {}
    for line in (wordnet / "data.noun").read_text("latin-1").splitlines():
        if line.startswith(" "):
            continue
        f = line.split(" | ")[0].split()
        offset, w_cnt = f[0], int(f[3], 16)
        words = [f[4 + 2 * i] for i in range(w_cnt)]
        lemmas[offset] = [w.split("(")[0] for w in words]  # drop adjective markers like (p)
        i = 4 + 2 * w_cnt
        p_cnt = int(f[i])
        ptrs = f[i + 1 : i + 1 + 4 * p_cnt]
        hypernyms[offset] = [ptrs[j + 1] for j in range(0, len(ptrs), 4) if ptrs[j] in ("@", "@i")]
    return lemmas, hypernyms


def ancestors(offset: str, hypernyms: dict[str, list[str]]) -> list[str]:
    """Every hypernym (transitively), nearest first."""
    seen: list[str] = []
    frontier = list(hypernyms.get(offset, []))
    while frontier:
        nxt: list[str] = []
        for o in frontier:
            if o not in seen:
                seen.append(o)
                nxt.extend(hypernyms.get(o, []))
        frontier = nxt
    return seen


def descendants(offsets: set[str], hyponyms: dict[str, list[str]]) -> set[str]:
    """Every hyponym (transitively) of any of ``offsets``."""
    seen: set[str] = set()
    frontier = [h for o in offsets for h in hyponyms.get(o, [])]
    while frontier:
        o = frontier.pop()
        if o not in seen:
            seen.add(o)
            frontier.extend(hyponyms.get(o, []))
    return seen


def word(lemma: str) -> str:
    return lemma.replace("_", " ")


# Labels whose class is not WordNet's first sense, but which everyone reads right in a photo's
# description ("television system", "church building" are stiffer, not clearer).
KEEP_LABEL = {"church", "television"}

# Labels whose last word names what the class is not (a "Madagascar cat" is a lemur, a "solar
# dish" no dish) or that few people say for a common animal ("ice bear"): descriptions use
# another of the class's own WordNet names (checked below); searches still find the label.
RENAME = {"Madagascar cat": "ring-tailed lemur", "solar dish": "solar collector", "ice bear": "polar bear"}
# Labels that name a thing people photograph more often, with no other WordNet name for the class:
# said with their nearest broader word, as a shared label is ("kite (bird of prey)", not the toy;
# "sorrel (horse)", not the herb).
QUALIFY = {"kite", "sorrel"}


def display_name(label: str, offset: str, own: list[str], index: dict[str, list[str]],
                 broader: list[str], duplicate: bool) -> str:
    """The class's name for a sentence, or "" when it is the label.

    A label means something else to most readers when WordNet's first sense of it is another
    synset ("monarch" is a sovereign; the class is the butterfly) or when two classes share it
    ("crane"). Then one of the class's own names that contains the label's words and has a single
    sense says which ("monarch butterfly", "ocean liner"); failing that, a shared label gets its
    nearest broader word ("crane (bird)"), as do QUALIFY's. RENAME's labels take its name.
    """
    if label in RENAME:
        return RENAME[label]
    senses = index.get(label.lower().replace(" ", "_"), [])
    misleading = bool(senses) and senses[0] != offset and label.lower() not in KEEP_LABEL
    if not (misleading or duplicate):
        return ""
    words = set(label.lower().split())
    for name in own:
        if name.lower() == label.lower() or (label[0].islower() and not name[0].islower()):
            continue
        if words <= set(name.lower().split()) and len(index.get(name.lower().replace(" ", "_"), [])) == 1:
            return name
    return f"{label} ({broader[0]})" if (duplicate or label in QUALIFY) and broader else ""


def resolve(sense: str, index: dict[str, list[str]]) -> str:
    lemma, _, n = sense.rsplit(".", 2)
    return index[lemma.lower()][int(n) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--synsets", type=Path, help="1000 ImageNet ids, one a line (default: the table's)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--verbose", action="store_true", help="print the synsets of each broader word")
    args = parser.parse_args()
    if args.synsets:
        wnids = args.synsets.read_text().split()
    else:
        rows = [line.split("\t") for line in OUT.read_text().splitlines()]
        wnids = [r[1] for r in rows if r[0].isdigit()]
    labels = (DATA / "imagenet_labels.txt").read_text().splitlines()
    if len(wnids) != 1000 or wnids != sorted(wnids) or len(labels) != 1000:
        sys.exit("expected 1000 sorted ImageNet ids and 1000 labels")
    index = parse_index(args.wordnet)
    lemmas, hypernyms = parse_data(args.wordnet)

    hyponyms: dict[str, list[str]] = {}
    for child, parents in hypernyms.items():
        for parent in parents:
            hyponyms.setdefault(parent, []).append(child)
    broader: list[tuple[str, set[str], list[str]]] = []
    errors: list[str] = []
    for tag, senses, synonyms in BROADER:
        offsets = {resolve(s, index) for s in senses}
        # A synonym must be a lemma of the sense, of a hypernym or of a hyponym of it.
        related = set(offsets)
        for o in offsets:
            related.update(ancestors(o, hypernyms))
        related.update(descendants(offsets, hyponyms))
        names = {word(lem).lower() for o in related for lem in lemmas[o]}
        bad = [s for s in synonyms if s not in names]
        if bad:
            errors.append(f"{tag}: {bad} are not WordNet names of {senses}, their hypernyms or hyponyms")
        # Only the curated synonyms: a sense's other lemmas can mislead ("machine" for car).
        broader.append((tag, offsets, [s for s in synonyms if s != tag]))
    if errors:
        sys.exit("\n".join(errors))
    if args.verbose:
        for tag, offsets, _ in broader:
            print(tag, [lemmas[o][:3] for o in sorted(offsets)], file=sys.stderr)

    out = [
        "# Generated by scripts/gen_wordnet_table.py from WordNet 3.0 (Princeton University; WordNet",
        "# 3.0 license, see README.md). Do not edit by hand. Columns: class index, ImageNet id, label,",
        "# broader tags (nearest first), other names of the class, every hypernym offset (nearest first),",
        "# scene words (curated in the generator: what photos of the class show around it), the name a",
        "# description uses when the label would mislead (empty: the label).",
        "# broad<TAB>tag<TAB>offsets<TAB>synonyms: each broader tag, its WordNet synsets, its search synonyms.",
    ]
    for tag, offsets, synonyms in broader:
        out.append(f"broad\t{tag}\t{','.join(sorted(offsets))}\t{','.join(synonyms)}")
    scene: dict[str, list[str]] = {}
    for sense, words in SCENE.items():
        offset = resolve(sense, index)
        if "n" + offset not in wnids:
            errors.append(f"{sense} is not an ImageNet-1k class")
        scene[offset] = words
    if errors:
        sys.exit("\n".join(errors))
    chains = {wnid: ancestors(wnid[1:], hypernyms) for wnid in wnids}
    # Nearest first = the broader word that covers the fewest classes first (cat before mammal).
    covers = {tag: sum(1 for w in wnids if offs & {w[1:], *chains[w]}) for tag, offs, _ in broader}
    out.append("index\twnid\tlabel\tbroader\tkeywords\tancestors\tscene\tdisplay")
    broad_names = {tag for tag, _, _ in broader}
    shared = {k for k, n in Counter(lb.lower() for lb in labels).items() if n > 1}
    table: list[list[str]] = []
    for i, (wnid, label) in enumerate(zip(wnids, labels, strict=True)):
        offset = wnid[1:]
        chain = chains[wnid]
        mine = sorted((covers[tag], tag) for tag, offs, _ in broader if offs & {offset, *chain})
        tags = [tag for _, tag in mine if tag != label.lower()]
        label_words = set(label.lower().split())
        # Other names of the class; Latin binomials ("Felis catus") only when the label shares a word.
        own = [word(lem) for lem in lemmas[offset]]
        keywords = [w for w in own if w.islower() or " " not in w or label_words & set(w.lower().split())]
        keywords = [k for k in dict.fromkeys(keywords) if k not in tags and k.lower() != label.lower()]
        # Another meaning's broader word is no synonym: the amphibious vehicle is no "amphibian".
        keywords = [k for k in keywords if k.lower() not in broad_names]
        scene_words = [w for w in scene.get(offset, []) if w not in tags]
        display = display_name(label, offset, own, index, tags, label.lower() in shared)
        if label in RENAME and RENAME[label] not in own:
            errors.append(f"{RENAME[label]!r} is not a WordNet name of {label!r}'s class")
        cells = (tags, keywords, chain, scene_words)
        table.append([str(i), wnid, label, *(",".join(c) for c in cells), display])
    if errors:
        sys.exit("\n".join(errors))
    # A shared label that one class already renamed ("Cardigan Welsh corgi") is clear for the other.
    renamed = {r[2].lower() for r in table if r[7] and not r[7].endswith(")")}
    for r in table:
        if r[7].endswith(")") and r[2].lower() in renamed:
            r[7] = ""
    out.extend("\t".join(r) for r in table)
    args.out.write_text("\n".join(out) + "\n")
    print(f"wrote {args.out} ({len(wnids)} classes, {len(broader)} broader words)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
