#!/usr/bin/env bash
# Prepares what the real-Cobbler tests need (tests/test_cobbler.py): Debian's rsync and libmagic1, and the
# separate Cobbler venv in ${XDG_CACHE_HOME:-~/.cache}/igor-tui-tests/cobbler-venv (pins live in
# tests/cobbler_server.py). Idempotent; .ci/run calls it before `make test`. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(rsync libmagic1)  # unshare, nsenter and mount (util-linux, mount) are in the base image
missing=()
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv build needs the project's interpreter (tests/cobbler_server.py imports pytest). Without it the
# session fixture builds the venv on first use instead, which is just as good.
python="${IGOR_PYTHON:-.venv/bin/python}"
if [ -x "$python" ]; then
    "$python" tests/cobbler_server.py build-venv >/dev/null
    "$python" tests/cobbler_server.py check
else
    echo "cobbler-test-env: $python not found; the test fixture will build the Cobbler venv on first use"
fi
