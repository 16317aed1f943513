"""CPU of the analysis' face stage: OpenCV's Haar cascade (320 px) against YuNet (bodies.FACE_SIDE).

Decodes every photo of bench/quality_labels.json once as the analyzer does, then counts faces
with both detectors, interleaved photo by photo, three rounds, and prints the process CPU time
per photo of each and their ratio, with the faces each found on the photos labeled with people
and on those labeled without (YuNet's animal-face rule left out: the detectors alone)::

    bench face count: haar_ms=H yunet_ms=Y ratio=Y/H haar_found=A/B yunet_found=C/B false_haar=F false_yunet=G

Run: `python bench/bench_face_count.py` (after scripts/ensure-photos.sh).
"""

from __future__ import annotations

import json
import os
import time

from bench_quality import LABELS, photo_bytes

from imagerepo.adapters.local import bodies
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode

ROUNDS = 3


def main() -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    labels = json.loads(LABELS.read_text())
    haar, yunet = m.FaceDetector(), bodies.FaceCounter()
    photos = [(p["people"], decode(photo_bytes(labels["sources"], p)).rgb) for p in labels["photos"]]
    cpu = {"haar": 0.0, "yunet": 0.0}
    found = {"haar": 0, "yunet": 0}
    false = {"haar": 0, "yunet": 0}
    for round_ in range(ROUNDS):
        for people, rgb in photos:
            for name, count in (("haar", haar.count), ("yunet", yunet.count)):
                t0 = time.process_time()
                n = count(rgb)
                cpu[name] += time.process_time() - t0
                if round_ == 0 and people is not None:
                    found[name] += bool(n) and people > 0
                    false[name] += bool(n) and people == 0
    runs = ROUNDS * len(photos)
    with_people = sum(1 for people, _ in photos if people)
    haar_ms, yunet_ms = 1000 * cpu["haar"] / runs, 1000 * cpu["yunet"] / runs
    print(
        f"bench face count: haar_ms={haar_ms:.1f} yunet_ms={yunet_ms:.1f} ratio={yunet_ms / haar_ms:.2f} "
        f"haar_found={found['haar']}/{with_people} yunet_found={found['yunet']}/{with_people} "
        f"false_haar={false['haar']} false_yunet={false['yunet']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
