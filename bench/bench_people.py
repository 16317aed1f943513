"""How well faces are grouped into people, on a labeled face set built from allowed packaged photos.

The set: every face YuNet finds in the allowed development photos (scikit-image's astronaut and
camera, a spaniel in lomiri-wallpapers' "friends", which YuNet takes for a face, and darknet's
person, in which it finds none) and in the real face photos that
scripts/ensure-face-photos.sh unpacks from two PyPI sdists (face_recognition's test images: Barack
Obama in three different photos and Joe Biden; insightface's: a group photo of six people and
Tom Hanks), each cut out with a wide margin, then generated variants of each cut-out: flipped,
cropped tighter and wider, recompressed (JPEG 30 and 60), relit (darker, brighter, low contrast),
slightly rotated, blurred, noisy and scaled down. Variants of one cut-out are the same person, and
so are the cut-outs of photos labeled with one identity (Obama's three); all others are different
people (the faces of one group photo are different people).

The faces are found with LocalFaceAnalyzer and grouped the way the service does it: one image at a
time (incremental; its figures are printed too), then one re-clustering, which also lets waiting
faces that agree closely start a person together. Pairwise precision: of the face pairs put in one person,
the share that are the same identity; recall: of the same-identity pairs, the share put together.
A face left waiting counts as its own group. Ends with:

    bench people pairwise_precision=P pairwise_recall=R faces_per_s=F

With BENCH_PEOPLE_FULL=1 it also times the full local analysis (LocalImageAnalyzer + faces) of a
12 MP photo holding three faces and reports the median and the process's peak RSS, then the face
descriptor alone per face, the one in use against dlib's own, alternately, then the photo as the
server analyzes it (`bench people served_12mp_3faces_ms=`: the analysis and the faces in child
processes of their own, side by side, against one after the other in the same run); with
BENCH_PEOPLE_BASELINE=<git ref> as well, the face adapter (faces.py) of that commit runs beside
this one, the two alternately in each round, and its median is printed too; with
BENCH_PEOPLE_SCALE=N it times reading N faces of one account from SQLite and placing one more.
"""

from __future__ import annotations

import importlib.resources
import io
import itertools
import os
import random
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from imagerepo.adapters.local.faces import LocalFaceAnalyzer
from imagerepo.domain.people import SAME_PERSON, Face, Person, cluster, distance

BASELINE = os.environ.get("BENCH_PEOPLE_BASELINE", "")
FACE_PHOTOS = Path(os.environ.get("FACE_PHOTOS_DIR", Path(__file__).resolve().parent.parent / "var" / "face-photos"))

# (where, file, identity): with an identity, the photo shows that one person (its largest face is
# taken) and every photo naming the same identity is the same person; without one, each face found
# is a different person (a group photo, or different animals).
SOURCES: list[tuple[str, str, str | None]] = [
    ("skimage", "astronaut.png", "astronaut"),
    ("skimage", "camera.png", "cameraman"),
    ("file", "/usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg", None),
    ("file", "/usr/share/darknet/data/person.jpg", None),
    # scripts/ensure-face-photos.sh unpacks these from face_recognition's and insightface's sdists.
    ("faces", "obama.jpg", "obama"),
    ("faces", "obama2.jpg", "obama"),
    ("faces", "obama3.jpg", "obama"),
    ("faces", "biden.jpg", "biden"),
    ("faces", "Tom_Hanks_54745.png", "hanks"),
    ("faces", "t1.jpg", None),
]


def source_bytes(kind: str, name: str) -> bytes | None:
    if kind == "skimage":
        return importlib.resources.files("skimage").joinpath("data", name).read_bytes()
    p = FACE_PHOTOS / name if kind == "faces" else Path(name)
    return p.read_bytes() if p.is_file() else None


def jpeg(im: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def identities(analyzer: LocalFaceAnalyzer) -> list[tuple[str, str, Image.Image]]:
    """Each face found in the source photos, cut out with a margin of its own size all round:
    (identity, cut-out name, cut-out)."""
    out = []
    for kind, name, identity in SOURCES:
        data = source_bytes(kind, name)
        if data is None:
            script = "ensure-face-photos.sh" if kind == "faces" else "ensure-photos.sh"
            print(f"  (missing {name}: scripts/{script} installs it)", file=sys.stderr)
            continue
        im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        # Faces small in a large photo: up to 2x first so that a cut-out holds enough pixels.
        if max(im.size) < 800:
            im = im.resize((im.width * 2, im.height * 2), Image.Resampling.LANCZOS)
        found = list(analyzer.find_faces(jpeg(im), "image/jpeg"))
        if identity is not None:
            found = sorted(found, key=lambda f: f.box.w * f.box.h)[-1:]
        for n, f in enumerate(found):
            w, h = im.size
            x, y, bw, bh = f.box.x * w, f.box.y * h, f.box.w * w, f.box.h * h
            m = max(bw, bh)
            box = (max(0, int(x - m)), max(0, int(y - m)), min(w, int(x + bw + m)), min(h, int(y + bh + m)))
            cut = f"{Path(name).stem}#{n}"
            out.append((identity or cut, cut, im.crop(box)))
    return out


def variants(im: Image.Image, seed: int) -> list[tuple[str, bytes]]:
    rnd = random.Random(seed)
    w, h = im.size
    noisy = np.asarray(im).astype(np.int16) + np.random.default_rng(seed).normal(0, 12, (h, w, 3)).astype(np.int16)
    return [
        ("original", jpeg(im)),
        ("flipped", jpeg(ImageOps.mirror(im))),
        ("tight", jpeg(im.crop((w // 6, h // 6, w - w // 6, h - h // 6)))),
        ("wide", jpeg(ImageOps.expand(im, border=w // 3, fill=(rnd.randrange(256), 120, 90)))),
        ("jpeg30", jpeg(im, 30)),
        ("jpeg60", jpeg(ImageOps.mirror(im), 60)),
        ("darker", jpeg(ImageEnhance.Brightness(im).enhance(0.6))),
        ("brighter", jpeg(ImageEnhance.Brightness(im).enhance(1.4))),
        ("flat", jpeg(ImageEnhance.Contrast(im).enhance(0.6))),
        ("rotated", jpeg(im.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)))),
        ("blurred", jpeg(im.filter(ImageFilter.GaussianBlur(1.2)))),
        ("noisy", jpeg(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))),
        ("half", jpeg(im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS))),
    ]


def pairwise(labels: dict[str, str], groups: dict[str, str | None]) -> tuple[float, float]:
    ids = sorted(labels)
    tp = fp = fn = 0
    for a, b in itertools.combinations(ids, 2):
        same = labels[a] == labels[b]
        together = groups[a] is not None and groups[a] == groups[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def margins(labels: dict[str, str], faces: list[Face]) -> None:
    """How close different identities come (precision's margin) and how far one identity's faces
    spread (recall's), against the distance at which two faces count as one person."""
    closest: dict[tuple[str, str], float] = {}
    spread: dict[str, float] = {}
    for a, b in itertools.combinations(faces, 2):
        d = distance(a.embedding, b.embedding)
        la, lb = sorted((labels[a.id], labels[b.id]))
        if la == lb:
            spread[la] = max(spread.get(la, 0.0), d)
        else:
            closest[(la, lb)] = min(closest.get((la, lb), 9.0), d)
    near = sorted(closest.items(), key=lambda kv: kv[1])[:4]
    print(f"  same person below {SAME_PERSON}; closest different identities: "
          + ", ".join(f"{a}/{b} {d:.3f}" for (a, b), d in near))
    print("  widest spread within an identity: "
          + ", ".join(f"{k} {d:.3f}" for k, d in sorted(spread.items(), key=lambda kv: -kv[1])[:4]))


def full_analysis() -> None:
    """Median of the full local analysis (tags, colors, text, faces) of a 12 MP photo with three
    faces, and the peak RSS of this process."""
    from imagerepo.adapters.local import LocalImageAnalyzer

    faces = LocalFaceAnalyzer()
    ids = identities(faces)[:3]
    canvas = Image.new("RGB", (4000, 3000), (96, 120, 140))
    for n, (_, _, im) in enumerate(ids):
        part = im.resize((900, round(900 * im.height / im.width)), Image.Resampling.LANCZOS)
        canvas.paste(part, (200 + n * 1250, 800))
    data = jpeg(canvas, 90)
    analyzer = LocalImageAnalyzer()
    codes: dict[str, Any] = {"this": faces}
    if BASELINE:
        codes["baseline"] = baseline_faces(BASELINE).LocalFaceAnalyzer()
    analyzer.analyze(data, "image/jpeg")  # models load on first use: not timed
    for code in codes.values():
        code.find_faces(data, "image/jpeg")
    times: dict[str, list[float]] = {k: [] for k in codes}
    cpu: dict[str, list[float]] = {k: [] for k in codes}
    found = 0
    for n in range(9 if BASELINE else 7):
        for name, code in sorted(codes.items(), reverse=n % 2 == 1):  # alternately first
            t, c = time.perf_counter(), time.process_time()
            analyzer.analyze(data, "image/jpeg")
            found = len(code.find_faces(data, "image/jpeg"))
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    # CPU time (all threads of this process) is what a quiet machine's wall time would be, give or
    # take the threads onnxruntime runs in parallel; wall time on a loaded machine is several-fold.
    print(f"bench people full_analysis_12mp_ms={statistics.median(times['this']) * 1000:.0f} "
          f"cpu_ms={statistics.median(cpu['this']) * 1000:.0f} faces={found} peak_rss_mb={rss:.0f} "
          f"load_avg_1m={load:.1f}" + (" (peak RSS of both codes' models)" if BASELINE else ""))
    if BASELINE:
        base_ms, base_cpu = statistics.median(times["baseline"]) * 1000, statistics.median(cpu["baseline"]) * 1000
        print(f"bench people full_analysis_12mp baseline={BASELINE} ms={base_ms:.0f} cpu_ms={base_cpu:.0f}")
    descriptors(faces, data)
    as_served(data)


def as_served(data: bytes) -> None:
    """The same photo the way the server analyzes it: the analysis and the faces each in a child
    process of their own (nice +10), one after the other (before) and side by side as the
    analysis service now runs them, alternately in one run. Wall time is what the owner waits."""
    from imagerepo.adapters.local import LocalImageAnalyzer
    from imagerepo.adapters.local.face_process import ProcessFaceAnalyzer
    from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer
    from imagerepo.adapters.system import ThreadsTogether

    analyzer = ProcessImageAnalyzer(LocalImageAnalyzer, name=LocalImageAnalyzer.name, processes=1,
                                    timeout_seconds=120)
    faces = ProcessFaceAnalyzer(processes=1, timeout_seconds=120)
    together = ThreadsTogether(threads=2)
    try:
        def analyze() -> None:
            analyzer.analyze(data, "image/jpeg")

        def find() -> None:
            faces.find_faces(data, "image/jpeg")

        analyze(), find()  # models load in the children on first use: not timed
        ways = {"sequential": lambda: (analyze(), find()), "together": lambda: together([analyze, find])}
        times: dict[str, list[float]] = {k: [] for k in ways}
        for n in range(9):
            for name, way in sorted(ways.items(), reverse=n % 2 == 1):
                t = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - t)
    finally:
        together.close()
        analyzer.close()
        faces.close()
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"bench people served_12mp_3faces_ms={med['together']:.0f} sequential_ms={med['sequential']:.0f} "
          f"load_avg_1m={os.getloadavg()[0]:.1f}  (analysis and faces in child processes, side by side vs one "
          f"after the other, 9 alternating rounds)")


def baseline_faces(ref: str) -> Any:
    """The face adapter module (faces.py) of git ref ``ref``, imported beside this one."""
    import importlib.util
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "-C", str(root), "show", f"{ref}:src/imagerepo/adapters/local/faces.py"],
                            check=True, capture_output=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_faces.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("baseline_faces", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def descriptors(faces: LocalFaceAnalyzer, data: bytes) -> None:
    """CPU per face of the descriptor the analyzer uses (dlib's network in onnxruntime) against
    dlib's own, alternately on the same aligned chips, and how far apart their numbers are."""
    import dlib

    from imagerepo.adapters.local.faces import _models_dir

    predictor, describe = faces._load()
    chips: list[np.ndarray] = []
    faces._models = (predictor, lambda chip: chips.append(chip.copy()) or describe(chip))
    faces.find_faces(data, "image/jpeg")
    faces._models = (predictor, describe)
    own = dlib.face_recognition_model_v1(str(_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    spent: dict[str, list[float]] = {"used": [], "dlib": []}
    diff = 0.0
    for n in range(5):
        for chip in chips:
            for name, run in sorted({"used": describe, "dlib": own.compute_face_descriptor}.items(),
                                    reverse=n % 2 == 1):
                c = time.process_time()
                run(chip)
                spent[name].append(time.process_time() - c)
            gap = np.array(describe(chip)) - np.array(own.compute_face_descriptor(chip))
            diff = max(diff, float(np.abs(gap).max()))
    print(f"bench people descriptor_cpu_ms_per_face used={statistics.median(spent['used']) * 1000:.1f} "
          f"dlib={statistics.median(spent['dlib']) * 1000:.1f} max_abs_diff={diff:.1e} chips={len(chips)}")


def scale(n_faces: int) -> None:
    """Grouping at scale: reading an account's faces from SQLite and placing one new face among them."""
    import tempfile
    from datetime import UTC, datetime

    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository, SqlitePeopleRepository
    from imagerepo.domain.images import Analysis
    from imagerepo.domain.images import Image as Photo
    from imagerepo.domain.people import Box, choose_person

    at = datetime(2026, 1, 1, tzinfo=UTC)
    rnd = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "people.sqlite3")
        db.open()
        images, repo = SqliteImageRepository(db), SqlitePeopleRepository(db)
        repo.save("o", [Person(f"p{i}", "o", at) for i in range(n_faces // 50)], [])
        for _ in range(n_faces // 5):
            photo = Photo(id=str(uuid.uuid4()), owner_id="o", filename="x.jpg", content_type="image/jpeg", width=1,
                          height=1, size_bytes=1, sha256=uuid.uuid4().hex, uploaded_at=at,
                          analysis=Analysis.pending("bench"))
            images.reserve(photo, 10**9)
            images.commit(photo.id)
            repo.add_faces("o", photo.id, [
                Face(str(uuid.uuid4()), "o", photo.id, Box(0, 0, 0.1, 0.1), tuple(rnd.random() for _ in range(128)),
                     0.9, person_id=f"p{rnd.randrange(n_faces // 50)}") for _ in range(5)])
        t = time.perf_counter()
        faces = repo.faces("o")
        read = time.perf_counter() - t
        groups: dict[str, list[tuple[float, ...]]] = {}
        for f in faces:
            groups.setdefault(f.person_id or "", []).append(f.embedding)
        probe = Face("new", "o", "i", Box(0, 0, 0.1, 0.1), tuple(rnd.random() for _ in range(128)), 0.9)
        t = time.perf_counter()
        choose_person(probe, groups)
        place = time.perf_counter() - t
        db.close()
    print(f"bench people scale faces={len(faces)} read_ms={read * 1000:.0f} place_one_ms={place * 1000:.0f}")


def main() -> None:
    analyzer = LocalFaceAnalyzer()
    people = identities(analyzer)
    print(f"{len({who for who, _, _ in people})} identities in {len(people)} cut-outs: "
          f"{', '.join(cut for _, cut, _ in people)}")
    labels: dict[str, str] = {}
    faces: list[Face] = []
    persons: dict[str, Person] = {}
    spent = 0.0
    missed = 0
    new_id = (lambda c: lambda: f"p{next(c)}")(itertools.count())
    stamp = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)
    shots = [(who, f"{cut} {kind}", data) for seed, (who, cut, im) in enumerate(people)
             for kind, data in variants(im, seed)]
    random.Random(7).shuffle(shots)  # photos arrive in no particular order
    for name, kind, data in shots:
        t = time.perf_counter()
        found = analyzer.find_faces(data, "image/jpeg")
        spent += time.perf_counter() - t
        if not found:
            missed += 1
            print(f"  no face found: {kind}")
            continue
        # The face nearest the middle is the cut-out's own (a wide crop may hold a neighbour).
        best = min(found, key=lambda f: abs(f.box.x + f.box.w / 2 - 0.5) + abs(f.box.y + f.box.h / 2 - 0.5))
        face = Face(str(uuid.uuid4()), "bench", f"{name}/{kind}", best.box, best.embedding, best.quality)
        labels[face.id] = name
        faces.append(face)
        placed = cluster(faces, persons.values(), new_id, free=lambda f, new=face.id: f.id == new)
        faces = [f if placed[f.id] == f.person_id else Face(f.id, f.owner_id, f.image_id, f.box, f.embedding,
                                                            f.quality, placed[f.id]) for f in faces]
        for pid in {p for p in placed.values() if p} - set(persons):
            persons[pid] = Person(pid, "bench", stamp)
    incremental = pairwise(labels, {f.id: f.person_id for f in faces})
    final = cluster(faces, persons.values(), new_id)
    precision, recall = pairwise(labels, final)
    waiting = sum(1 for v in final.values() if v is None)
    members: dict[str, list[str]] = {}
    for fid, pid in final.items():
        if pid:
            members.setdefault(pid, []).append(labels[fid])
    for pid, who in sorted(members.items()):
        if len(set(who)) > 1:
            counts = sorted((k, who.count(k)) for k in set(who))
            print(f"  mixed person {pid}: " + ", ".join(f"{n}x{k}" for k, n in counts))
    margins(labels, faces)
    split = {k: len({final[f] for f in labels if labels[f] == k and final[f]}) for k in set(labels.values())}
    print("  people per identity: " + ", ".join(f"{k}={v}" for k, v in sorted(split.items())))
    print(f"faces={len(faces)} missed_images={missed} people={len({v for v in final.values() if v})} "
          f"waiting={waiting} incremental_precision={incremental[0]:.3f} incremental_recall={incremental[1]:.3f}")
    if os.environ.get("BENCH_PEOPLE_FULL"):
        full_analysis()
    if os.environ.get("BENCH_PEOPLE_SCALE"):
        scale(int(os.environ["BENCH_PEOPLE_SCALE"]))
    print(f"bench people pairwise_precision={precision:.3f} pairwise_recall={recall:.3f} "
          f"faces_per_s={len(faces) / spent:.1f}")


if __name__ == "__main__":
    main()
