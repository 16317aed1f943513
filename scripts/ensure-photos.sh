#!/bin/sh
# Installs the Debian packages whose sample photos the analysis tests and `make bench-quality`
# use (bench/quality_labels.json) when they are missing. Never the packages reserved for
# independent evaluation (opencv-doc, plasma-workspace-wallpapers, mate-backgrounds).
set -eu
PACKAGES=${PHOTO_PACKAGES:-darknet lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 tuxpaint-stamps-default}
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ensure-photos: install Debian's$missing (sample photos for the analysis tests)" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
