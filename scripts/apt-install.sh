#!/bin/sh
# Installs the named Debian packages (as root, or through passwordless sudo); used by the
# ensure-*.sh scripts, which first check whether they are needed.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "apt-install: not root and no sudo; install Debian's $*" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
