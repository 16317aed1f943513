#!/bin/sh
# Installs the Debian packages whose sample photos the analysis tests and `make bench-quality`
# use (bench/quality_labels.json) when they are missing. Never the packages reserved for
# independent evaluation (opencv-doc, plasma-workspace-wallpapers, mate-backgrounds). Also
# wordnet-base, from which a test regenerates data/imagenet_wordnet.tsv. gcompris-qt-data (44 MB,
# no dependencies) keeps its real photos inside Qt resource bundles: bench/qt_resources.py reads them.
set -eu
PACKAGES=${PHOTO_PACKAGES:-darknet gcompris-qt-data lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 tuxpaint-stamps-default ukui-wallpapers wordnet-base}
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
# shellcheck disable=SC2086
sh "$(dirname "$0")/apt-install.sh" $missing
