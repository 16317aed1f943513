"""Experiment: which classifier input (framing, resolution, flip) names more subjects.

Runs the whole local analyzer on every labeled photo once per variant, with the classifier's
probabilities computed the variant's way (the embedding stays the current one), and prints the
bench_quality summaries per variant and the photos whose subject verdict changed against "base".

    PYTHONPATH=$PWD/src:$PWD python bench/try_framing.py [--mass] [variant ...]

--mass skips the analyzer and the thresholds: per variant, the probability the classifier gives
the labeled subject (the classes whose name, broader word or synonym is an accepted word), how
many photos of each part (the step 11 set, each batch of real photos) it raises or lowers against
base, and how often the top class is right
(at any probability, and from 0.40 on) or confidently wrong. Less noisy than subject counts, where
one photo crossing a threshold moves the figure. Findings of issue 13's quality3 session: box
resampling for the reduction (not for enlarging) raised it on both halves (16/6 and 15/7 photos),
higher test resolutions lowered every probability (calibration: 256 px, mean 0.47 -> 0.37).
"""

from __future__ import annotations

import json
import mimetypes
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from bench.bench_quality import BATCHES, GROUPS, LABELS, Score, groups_of, photo_bytes, score
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer, efficientnet
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.vocabulary import labels as class_names

Rgb = npt.NDArray[np.uint8]


def resized(rgb: Rgb, w: int, h: int, resample: Image.Resampling = Image.Resampling.BILINEAR) -> Image.Image:
    return Image.fromarray(rgb).resize((w, h), resample, reducing_gap=2.0)


def crop(rgb: Rgb, size: int, fov: float, resample: Image.Resampling = Image.Resampling.BILINEAR) -> Rgb:
    """Shorter side to size/fov, the central size×size."""
    h, w = rgb.shape[:2]
    scale = size / fov / min(h, w)
    im = resized(rgb, max(size, round(w * scale)), max(size, round(h * scale)), resample)
    left, top = (im.width - size) // 2, (im.height - size) // 2
    return np.ascontiguousarray(np.asarray(im.crop((left, top, left + size, top + size))))


def split(rgb: Rgb, down: Image.Resampling, up: Image.Resampling) -> Rgb:
    """The production 224 px crop with one filter for shrinking and another for enlarging."""
    return crop(rgb, 224, 0.875, down if min(rgb.shape[:2]) > 224 / 0.875 else up)


def squash(rgb: Rgb, size: int) -> Rgb:
    return np.ascontiguousarray(np.asarray(resized(rgb, size, size)))


def letterbox(rgb: Rgb, size: int, fill: int) -> Rgb:
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.full((size, size, 3), fill, dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = np.asarray(resized(rgb, nw, nh))
    return out


def main() -> int:
    labels = json.loads(LABELS.read_text())
    analyzer = LocalImageAnalyzer(nsfw=False)
    analyzer.warm_up()
    base_clf = analyzer._classifier()
    path = m.default_weights()
    sessions: dict[int, Any] = {224: base_clf.session}
    for size in (256, 288, 320):
        efficientnet.INPUT_SIZE = size
        sessions[size] = m.Classifier(path).session
    efficientnet.INPUT_SIZE = 224

    def run(x: Rgb) -> npt.NDArray[np.float32]:
        (probs,) = sessions[x.shape[0]].run(["probs"], {"image": x[None]})
        return np.asarray(probs[0], dtype=np.float32)

    def mean(*ps: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(np.mean(ps, axis=0), dtype=np.float32)

    def flip(x: Rgb) -> Rgb:
        return np.ascontiguousarray(x[:, ::-1])

    def logmean(*ps: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        z = np.mean([np.log(np.maximum(p, 1e-12)) for p in ps], axis=0)
        e = np.exp(z - z.max())
        return np.asarray(e / e.sum(), dtype=np.float32)

    def surest(*ps: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return max(ps, key=lambda p: float(p.max()))

    B = Image.Resampling

    def cv(r: Rgb, interp: int) -> Rgb:
        import cv2

        h, w = r.shape[:2]
        scale = 224 / 0.875 / min(h, w)
        im = cv2.resize(r, (max(224, round(w * scale)), max(224, round(h * scale))), interpolation=interp)
        top, left = (im.shape[0] - 224) // 2, (im.shape[1] - 224) // 2
        return np.ascontiguousarray(im[top : top + 224, left : left + 224])

    def box_squash(r: Rgb) -> Rgb:
        f = B.BOX if min(r.shape[:2]) > 224 else B.BILINEAR
        return np.ascontiguousarray(np.asarray(resized(r, 224, 224, f)))

    variants: dict[str, Callable[[Rgb], npt.NDArray[np.float32]]] = {
        "base": lambda r: run(crop(r, 224, 0.875)),
        "flip": lambda r: mean(run(c := crop(r, 224, 0.875)), run(flip(c))),
        "crop224_fov1": lambda r: run(crop(r, 224, 1.0)),
        "squash224": lambda r: run(squash(r, 224)),
        "letterbox224_gray": lambda r: run(letterbox(r, 224, 127)),
        "letterbox224_white": lambda r: run(letterbox(r, 224, 255)),
        "base+letterbox": lambda r: mean(run(crop(r, 224, 0.875)), run(letterbox(r, 224, 127))),
        "base+squash": lambda r: mean(run(crop(r, 224, 0.875)), run(squash(r, 224))),
        "crop256_fov875": lambda r: run(crop(r, 256, 0.875)),
        "crop256_fov1": lambda r: run(crop(r, 256, 1.0)),
        "crop288_fov875": lambda r: run(crop(r, 288, 0.875)),
        "crop288_fov1": lambda r: run(crop(r, 288, 1.0)),
        "crop320_fov1": lambda r: run(crop(r, 320, 1.0)),
        "squash256": lambda r: run(squash(r, 256)),
        "bicubic": lambda r: run(crop(r, 224, 0.875, B.BICUBIC)),
        "lanczos": lambda r: run(crop(r, 224, 0.875, B.LANCZOS)),
        "box": lambda r: run(crop(r, 224, 0.875, B.BOX)),
        "flip_logmean": lambda r: logmean(run(c := crop(r, 224, 0.875)), run(flip(c))),
        "flip_surest": lambda r: surest(run(c := crop(r, 224, 0.875)), run(flip(c))),
        "squash_surest": lambda r: surest(run(crop(r, 224, 0.875)), run(squash(r, 224))),
        "letterbox_surest": lambda r: surest(run(crop(r, 224, 0.875)), run(letterbox(r, 224, 127))),
        "fov1_surest": lambda r: surest(run(crop(r, 224, 0.875)), run(crop(r, 224, 1.0))),
        "fov75": lambda r: run(crop(r, 224, 0.75)),
        "cv_area": lambda r: run(cv(r, 3)),
        "cv_linear": lambda r: run(cv(r, 1)),
        "cv_cubic": lambda r: run(cv(r, 2)),
        "box_down": lambda r: run(split(r, B.BOX, B.BILINEAR)),
        "box_up": lambda r: run(split(r, B.BILINEAR, B.BOX)),
        "nearest": lambda r: run(crop(r, 224, 0.875, B.NEAREST)),
        "hamming": lambda r: run(crop(r, 224, 0.875, B.HAMMING)),
        "cv_nearest": lambda r: run(cv(r, 0)),
        "box_flip": lambda r: mean(run(c := crop(r, 224, 0.875, B.BOX)), run(flip(c))),
        "box_fov1": lambda r: run(crop(r, 224, 1.0, B.BOX)),
        "box_squash": lambda r: run(np.ascontiguousarray(np.asarray(resized(r, 224, 224, B.BOX)))),
        "box256": lambda r: run(crop(r, 256, 0.875, B.BOX)),
        "box_down_bicubic_up": lambda r: run(split(r, B.BOX, B.BICUBIC)),
        "box_down_lanczos_up": lambda r: run(split(r, B.BOX, B.LANCZOS)),
        "box_down_hamming_up": lambda r: run(split(r, B.BOX, B.HAMMING)),
        "base+squash_log": lambda r: logmean(run(crop(r, 224, 0.875)), run(squash(r, 224))),
        "base+letterbox_log": lambda r: logmean(run(crop(r, 224, 0.875)), run(letterbox(r, 224, 127))),
        "boxd+squash_log": lambda r: logmean(run(split(r, B.BOX, B.BILINEAR)), run(squash(r, 224))),
        "boxd+boxsquash_log": lambda r: logmean(run(split(r, B.BOX, B.BILINEAR)), run(box_squash(r))),
        "flip256_fov875": lambda r: mean(run(c := crop(r, 256, 0.875)), run(flip(c))),
    }
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")] or list(variants)
    if "base" not in chosen:
        chosen.insert(0, "base")
    names = class_names()
    if "--mass" in sys.argv:
        return mass(labels, chosen, variants)
    verdicts: dict[str, dict[str, bool]] = {}
    tops: dict[str, dict[str, str]] = {}
    for variant in chosen:
        fn = variants[variant]
        current: dict[str, npt.NDArray[np.float32]] = {}

        def patched(self: m.Classifier, rgb: Rgb, fn: Any = fn, current: Any = current) -> Any:
            _, features = m.Classifier.__dict__["_orig"](self, rgb)
            probs = fn(rgb)
            current["probs"] = probs
            return probs, features

        if "_orig" not in m.Classifier.__dict__:
            m.Classifier._orig = m.Classifier.probabilities_and_features  # type: ignore[attr-defined]
        m.Classifier.probabilities_and_features = patched  # type: ignore[method-assign]
        groups = {g: Score() for g in GROUPS}
        verdicts[variant], tops[variant] = {}, {}
        for photo in labels["photos"]:
            data = photo_bytes(labels["sources"], photo)
            ctype = mimetypes.guess_type(photo["path"])[0] or "application/octet-stream"
            result = analyzer.analyze(data, ctype)
            problems = score(photo, result, [groups[n] for n in groups_of(photo)])
            key = photo["path"].rpartition("/")[2]
            verdicts[variant][key] = not any(p.startswith("subject") for p in problems)
            p = current["probs"]
            top = np.argsort(-p)[:5]
            tops[variant][key] = (
                f"{photo['subject'][:3]} tags={[t.name for t in result.tags[:5]]} "
                + ", ".join(f"{names[i]} {p[i]:.2f}" for i in top)
            )
        print(f"== {variant}", flush=True)
        for n in ("step 11", *BATCHES, "no stamps", "all"):
            print(f"   {n:9} {groups[n].line()}", flush=True)
        if variant != "base":
            for key, ok in verdicts[variant].items():
                if ok != verdicts["base"][key]:
                    print(f"   {'+' if ok else '-'} {key}: {tops[variant][key]}")
    if "--misses" in sys.argv or len(chosen) == 1:
        for key, ok in verdicts["base"].items():
            if not ok:
                print(f"miss {key}: {tops['base'][key]}")
    return 0


def mass(labels: Any, chosen: list[str], variants: dict[str, Any]) -> int:
    """Per variant: the probability the classifier gives the labeled subject (summed over the
    classes whose name, broader word or synonym is an accepted word), against base photo by photo."""
    from imagerepo.adapters.local.decode import decode
    from imagerepo.adapters.local.vocabulary import wordnet_table

    names = [n.lower() for n in class_names()]
    _, rows = wordnet_table()
    got: dict[str, list[float]] = {v: [] for v in chosen}
    sure: dict[str, list[int]] = {v: [0, 0] for v in chosen}  # confident top class: right, wrong
    first: dict[str, int] = dict.fromkeys(chosen, 0)  # top class right, at any probability
    halves: list[str] = []
    for photo in labels["photos"]:
        rgb = decode(photo_bytes(labels["sources"], photo)).rgb
        words = {w.lower() for w in photo["subject"]}
        classes = [
            i
            for i in range(1000)
            if names[i] in words or words & set(rows[i].broader) or words & {k.lower() for k in rows[i].keywords}
        ]
        halves.append(groups_of(photo)[1])  # the step 11 set or the batch that added the photo
        for v in chosen:
            p = variants[v](rgb)
            got[v].append(float(p[classes].sum()) if classes else float("nan"))
            top = int(np.argmax(p))
            first[v] += top in classes
            if p[top] >= 0.40:
                sure[v][0 if top in classes else 1] += 1
    base = np.array(got["base"])
    ok = ~np.isnan(base)
    for v in chosen:
        a = np.array(got[v])
        line = f"{v:14} mass {np.nanmean(a):.4f} top1 right {first[v]}, top>=0.4 right {sure[v][0]} wrong {sure[v][1]}"
        for half in ("step 11", *BATCHES):
            sel = ok & (np.array(halves) == half)
            up = int(np.sum(a[sel] > base[sel] + 0.01))
            down = int(np.sum(a[sel] < base[sel] - 0.01))
            line += f" | {half}: mean {np.mean(a[sel]):.4f} up {up} down {down}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
