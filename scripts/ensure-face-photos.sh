#!/bin/sh
# Unpacks the real face photos `make bench-people` labels (bench/bench_people.py) from two PyPI
# source distributions, pinned by hash, into var/face-photos/ when they are missing. Only the
# photos are kept; nothing is installed or run from them, and nothing fetches them at run time.
#   face_recognition 1.3.0 (MIT): tests/test_images — Barack Obama in three photos, Joe Biden
#   insightface 2.1 (MIT library): insightface/data/images — t1.jpg (six people), Tom Hanks
set -eu
DEST=${FACE_PHOTOS_DIR:-$(dirname "$0")/../var/face-photos}
PY=${PYTHON:-python3}
FILES="obama.jpg obama2.jpg obama3.jpg biden.jpg t1.jpg Tom_Hanks_54745.png"
ok=1
for f in $FILES; do [ -f "$DEST/$f" ] || ok=0; done
[ "$ok" = 1 ] && exit 0
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() {  # name==version sha256 member-prefix files...
    spec=$1 sum=$2 prefix=$3
    shift 3
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$tmp" "$spec" >/dev/null 2>&1 \
        || "$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "$spec"
    archive=$(ls "$tmp"/*.tar.gz | grep -i "$(echo "${spec%%==*}" | tr - _)" | head -n 1)
    echo "$sum  $archive" | sha256sum -c --quiet -
    for f in "$@"; do
        tar -xzf "$archive" -O "$prefix/$f" > "$DEST/$f"
    done
}
fetch face_recognition==1.3.0 5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec \
    face_recognition-1.3.0/tests/test_images obama.jpg obama2.jpg obama3.jpg biden.jpg
fetch insightface==2.1 776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01 \
    insightface-2.1/insightface/data/images t1.jpg Tom_Hanks_54745.png
