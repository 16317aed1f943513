#!/bin/sh
# Installs Debian's chromium for the browser tests when /usr/bin/chromium is missing.
# Playwright drives this binary; never `playwright install` (it downloads browsers from the internet).
set -eu
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
"$CHROMIUM" --version
