"""Local analysis benchmark: 12 MP latency by stage, colors vs colorthief, worker throughput, RSS.

Run with `make bench-analysis`. Ends with one `bench name=value` line per figure.
BENCH_SCALE=tiny runs every part with a few images and runs, only to check that it works.

The served path: the analysis worker passes the upload's stored 480 px thumbnail as the preview,
which the analyzer decodes instead of the 12 MP original. Each 12 MP run analyzes the file both ways,
alone and with its thumbnail (made by the production inspector), the order alternating run by run,
and prints `bench analysis preview=0|1 median_ms=... median_cpu_ms=...` (CPU: this process's, all
threads; one analysis at a time).

Stage medians are over the runs in which the stage ran ("n/N"): reading text runs only on photos
where the detector found some, so it is absent from most runs and from the overall median.

BENCH_ANALYSIS_BASELINE=<git ref> (e.g. c3d826a) adds an A/B run: that ref's src/ is extracted to
a temporary directory and each side runs in its own process (all models, one analysis at a time),
alternating image by image on the same 12 MP files (AB, BA, ...), so a change of load on a shared
machine falls on both alike; then the worker pool (2 threads) alternates the same way. Wall time
and CPU time (this process's, all threads) are reported for both; CPU per image is the figure that
load changes least. Ends with `bench ab side=<this|ref> ...` lines.

Colors against colorthief, each the median of the same number of runs, two ways: from the same
12 MP file (ours decodes at 1/8 scale and clusters a sample; colorthief decodes it all), and on the
very pixels our decode produced (the palette step alone, both sides given the same image).
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage import data as skdata

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.local.palette import colors_of
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.colors import color_name, to_hex

TINY = os.environ.get("BENCH_SCALE", "").lower() == "tiny"
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")[: 1 if TINY else 4]
RUNS_12MP = 2 if TINY else 12
COLOR_RUNS = 2 if TINY else 7  # per file, for ours and for colorthief alike
POOL_IMAGES = 6 if TINY else 100


def jpeg(arr: np.ndarray, size: tuple[int, int] | None = None, quality: int = 90) -> bytes:
    im = Image.fromarray(arr).convert("RGB")
    if size:
        im = im.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def twelve_mp(name: str) -> bytes:
    """A photo upscaled to 4000×3000 with sensor-like noise, so JPEG decoding does real work."""
    big = np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB").resize((4000, 3000), Image.BICUBIC))
    noise = np.random.default_rng(0).integers(-6, 7, big.shape, dtype=np.int16)
    return jpeg(np.clip(big + noise, 0, 255).astype(np.uint8))


def thumbnail(data: bytes) -> bytes:
    """The preview as the upload stores it (the thumbnail blob)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        return PillowImageInspector().thumbnail(path).data


def peak_rss_child(paths: list[str]) -> None:
    """In a fresh process: load every model, analyze the files (12 MP and a text page), report peak RSS."""
    analyzer = LocalImageAnalyzer()
    analyzer.warm_up()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda p: analyzer.analyze(Path(p).read_bytes(), "image/jpeg"), paths * 2))
    assert any(r.text for r in results), "the OCR stage did not run"
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def mixed_batch() -> list[tuple[bytes, str]]:
    """~100 mixed photos (sizes, formats, with and without text) for the worker pool."""
    names = [
        n for n in ("coffee", "chelsea", "astronaut", "rocket", "camera", "page", "text", "coins") if hasattr(skdata, n)
    ]
    batch: list[tuple[bytes, str]] = []
    for i in range(POOL_IMAGES):
        arr = getattr(skdata, names[i % len(names)])()
        side = (640, 1024, 1600, 2048)[i % 4]
        h, w = arr.shape[:2]
        size = (side, max(1, round(h * side / w)))
        batch.append((jpeg(arr, size), "image/jpeg") if i % 3 else (png(arr), "image/png"))
    return batch


def ab_child(paths: list[str]) -> None:
    """One side of the A/B run: analyses on request ("one N" or "pool"), one JSON line back each."""
    import json

    analyzer = LocalImageAnalyzer()
    analyzer.warm_up()
    files = [Path(p).read_bytes() for p in paths]
    batch = mixed_batch()
    for b in files:
        analyzer.analyze(b, "image/jpeg")
    print("ready", flush=True)
    for line in sys.stdin:
        t, c = time.perf_counter(), time.process_time()
        if line.startswith("pool"):
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda item: analyzer.analyze(*item), batch))
            out: dict[str, Any] = {"images": len(batch)}
        else:
            result = analyzer.analyze(files[int(line.split()[1])], "image/jpeg")
            out = {"stages": result.extra["timings_ms"]}
        out.update(ms=(time.perf_counter() - t) * 1000, cpu_ms=(time.process_time() - c) * 1000)
        print(json.dumps(out), flush=True)


def ab_run(ref: str, files: dict[str, bytes]) -> None:
    """Interleaved A/B against ``ref`` (see the module docstring)."""
    import json

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        paths = []
        for name, b in files.items():
            paths.append(os.path.join(tmp, f"{name}.jpg"))
            Path(paths[-1]).write_bytes(b)
        here = str(root / "src")
        sides = {"this": here, "ref": os.path.join(tmp, "src")}
        kids = {}
        for side, src in sides.items():
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(root)])}
            kids[side] = subprocess.Popen(
                [sys.executable, __file__, "--ab-child", *paths],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            )
        for kid in kids.values():
            assert kid.stdout is not None
            assert kid.stdout.readline().strip() == "ready"

        def ask(side: str, request: str) -> dict[str, Any]:
            kid = kids[side]
            assert kid.stdin is not None
            assert kid.stdout is not None
            kid.stdin.write(request + "\n")
            kid.stdin.flush()
            return dict(json.loads(kid.stdout.readline()))

        one: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        pools: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        order = list(sides)
        for i in range(RUNS_12MP * 2):
            for side in order if i % 2 == 0 else order[::-1]:
                one[side].append(ask(side, f"one {i % len(paths)}"))
        for i in range(1 if TINY else 2):
            for side in order if i % 2 == 0 else order[::-1]:
                pools[side].append(ask(side, "pool"))
        for kid in kids.values():
            assert kid.stdin is not None
            kid.stdin.close()
            kid.wait()
    names = list(files)
    print(f"\nA/B against {ref}, interleaved, {RUNS_12MP * 2} analyses of 12 MP JPEGs a side, then the pool:")
    for side in sides:
        runs = one[side]
        ms = statistics.median(r["ms"] for r in runs)
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        stages: dict[str, list[float]] = {}
        for r in runs:
            for stage, v in r["stages"].items():
                stages.setdefault(stage, []).append(v)
        per_photo = {
            n: statistics.median(r["cpu_ms"] for k, r in enumerate(runs) if k % len(names) == j)
            for j, n in enumerate(names)
        }
        images = sum(p["images"] for p in pools[side])
        per_s = images / (sum(p["ms"] for p in pools[side]) / 1000)
        per_cpu_s = images / (sum(p["cpu_ms"] for p in pools[side]) / 1000)
        label = "this checkout" if side == "this" else ref
        print(f"  {label}: median {ms:.1f} ms wall, {cpu:.1f} ms CPU;"
              f" pool {per_s:.2f} images/s, {per_cpu_s:.2f} per CPU-second")
        print("    stages (ms): " + ", ".join(
            f"{k} {statistics.median(v):.1f} ({len(v)}/{len(runs)})" for k, v in stages.items()))
        print("    CPU per photo (ms): " + ", ".join(f"{n} {v:.0f}" for n, v in per_photo.items()))
        print(f"bench ab side={side} ref={ref} median_ms={ms:.1f} median_cpu_ms={cpu:.1f}"
              f" pool_images_per_s={per_s:.2f} pool_images_per_cpu_s={per_cpu_s:.2f}")


def main() -> None:
    analyzer = LocalImageAnalyzer()
    t0 = time.perf_counter()
    analyzer.warm_up()
    print(f"models loaded in {time.perf_counter() - t0:.2f} s")

    files = {name: twelve_mp(name) for name in PHOTOS}
    print(f"12 MP JPEGs: {', '.join(f'{n} {len(b) / 1e6:.1f} MB' for n, b in files.items())}")

    # 1. Full analysis of a 12 MP JPEG, alone and with its thumbnail as the preview (interleaved).
    previews = {name: thumbnail(b) for name, b in files.items()}
    for name, b in files.items():
        analyzer.analyze(b, "image/jpeg")
        analyzer.analyze(b, "image/jpeg", preview=previews[name])
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    stage_runs: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    for i in range(RUNS_12MP):
        name = list(files)[i % len(files)]
        for with_preview in (False, True) if i % 2 == 0 else (True, False):
            t, c = time.perf_counter(), time.process_time()
            result = analyzer.analyze(files[name], "image/jpeg", preview=previews[name] if with_preview else None)
            walls[with_preview].append((time.perf_counter() - t) * 1000)
            cpus[with_preview].append((time.process_time() - c) * 1000)
            for stage, ms in result.extra["timings_ms"].items():
                stage_runs[with_preview].setdefault(stage, []).append(ms)
    totals = walls[False]
    median_ms = statistics.median(totals)
    print(f"\nfull analysis, 12 MP JPEG, {RUNS_12MP} runs each way, interleaved:")
    for with_preview in (False, True):
        label = "with the 480 px thumbnail as preview" if with_preview else "the original alone"
        ms, cpu = statistics.median(walls[with_preview]), statistics.median(cpus[with_preview])
        print(f"  {label}: median {ms:.1f} ms wall, {cpu:.1f} ms CPU, max {max(walls[with_preview]):.1f} ms")
        for stage, values in stage_runs[with_preview].items():
            print(f"    {stage:<10} median {statistics.median(values):7.1f} ms ({len(values)}/{RUNS_12MP} runs)")
    for name, b in files.items():
        print(f"  {name:<10} {analyzer.analyze(b, 'image/jpeg').description}")

    # 2. Colors: ours (decode + palette) against colorthief, the same number of runs each.
    from colorthief import ColorThief

    def median_time(fn: Any) -> tuple[float, Any]:
        times, out = [], None
        for _ in range(COLOR_RUNS):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), out

    def thief_on(image: Image.Image) -> list[tuple[int, int, int]]:
        thief = ColorThief.__new__(ColorThief)  # its constructor only opens a file; hand it pixels instead
        thief.image = image
        return thief.get_palette(color_count=6)

    ours, decode_only, palette_only, theirs_file, theirs_pixels = [], [], [], [], []
    print(f"\npalettes, median of {COLOR_RUNS} runs each (ours | colorthief on the file):")
    for name in PHOTOS:
        b = files[name]
        t_total, (decoded, colors) = median_time(lambda b=b: (d := decode(b), colors_of(d)))
        t_decode, _ = median_time(lambda b=b: decode(b))
        t_palette, _ = median_time(lambda d=decoded: colors_of(d))
        t_file, thief = median_time(lambda b=b: ColorThief(io.BytesIO(b)).get_palette(color_count=6))
        same_pixels = Image.fromarray(decoded.rgb)
        t_pixels, _ = median_time(lambda im=same_pixels: thief_on(im))
        ours.append(t_total)
        decode_only.append(t_decode)
        palette_only.append(t_palette)
        theirs_file.append(t_file)
        theirs_pixels.append(t_pixels)
        h, w = decoded.rgb.shape[:2]
        print(
            f"  {name}: ours {t_total * 1000:.1f} ms (JPEG decode at 1/8 {t_decode * 1000:.1f} ms, palette"
            f" {t_palette * 1000:.1f} ms), colorthief {t_file * 1000:.0f} ms = {t_file / t_total:.0f}×;"
            f" on the same {w}×{h} pixels: colorthief {t_pixels * 1000:.1f} ms = {t_pixels / t_palette:.1f}×"
        )
        for i in range(max(len(colors), len(thief))):
            left = f"{colors[i].hex} {colors[i].fraction:5.1%} {colors[i].name:<7}" if i < len(colors) else " " * 22
            right = f"{to_hex(thief[i])} {color_name(thief[i])}" if i < len(thief) else ""
            print(f"    {left} | {right}")
    speedup = sum(theirs_file) / sum(ours)
    ceiling = sum(theirs_file) / sum(decode_only)
    same_pixels_speedup = sum(theirs_pixels) / sum(palette_only)
    print(f"colors speedup vs colorthief, same files: {speedup:.0f}× (decode alone would allow at most {ceiling:.0f}×)")
    print(f"colors speedup vs colorthief, same decoded pixels (palette step only): {same_pixels_speedup:.1f}×")

    # 3. Worker-pool throughput on ~100 mixed photos (sizes, formats, with and without text).
    batch = mixed_batch()
    t, c = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda item: analyzer.analyze(*item), batch))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    per_s = len(done) / elapsed
    with_text = sum(1 for r in done if r.text)
    print(
        f"\nworker pool (2 threads): {len(done)} images in {elapsed:.1f} s = {per_s:.1f} images/s,"
        f" {len(done) / cpu:.2f} per CPU-second ({with_text} with OCR text)"
    )

    # Peak RSS in a clean process, so the benchmark's own test images do not count.
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, b in [*files.items(), ("page", jpeg(skdata.page(), (1536, 764)))]:
            path = os.path.join(tmp, f"{name}.jpg")
            with open(path, "wb") as f:
                f.write(b)
            paths.append(path)
        out = subprocess.run(
            [sys.executable, __file__, "--peak-rss", *paths], capture_output=True, text=True, check=True
        ).stdout
    peak_mb = float(out.strip().splitlines()[-1])
    print(f"peak RSS, fresh process, all models loaded, 2 threads on 12 MP photos and a text page: {peak_mb:.0f} MB")
    baseline = os.environ.get("BENCH_ANALYSIS_BASELINE", "")
    if baseline:
        ab_run(baseline, files)

    print(f"\nbench analysis_12mp_median_ms={median_ms:.1f}")
    for with_preview in (False, True):
        print(f"bench analysis 12mp preview={int(with_preview)} median_ms={statistics.median(walls[with_preview]):.1f}"
              f" median_cpu_ms={statistics.median(cpus[with_preview]):.1f}")
    print(f"bench colors_speedup_vs_colorthief={speedup:.1f}")
    print(f"bench colors_speedup_vs_colorthief_same_pixels={same_pixels_speedup:.1f}")
    print(f"bench worker_images_per_s={per_s:.2f}")
    print(f"bench peak_rss_mb={peak_mb:.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak-rss"]:
        peak_rss_child(sys.argv[2:])
    elif sys.argv[1:2] == ["--ab-child"]:
        ab_child(sys.argv[2:])
    else:
        main()
