#!/usr/bin/env bash
# The Python package as a user installs it: `pip install ./python` into a fresh virtual
# environment (Debian's numpy and pytest visible through --system-site-packages; nothing fetched),
# then its tests against this build's libulpgate.so.
# Usage: python_test.sh SOURCE_DIR LIBULPGATE WORK_DIR
set -euo pipefail
src=$1 lib=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
cp -r "$src/python" "$work/package"  # setuptools writes build/ and egg-info beside the sources
"$work/venv/bin/pip" install -q --no-index --no-deps --no-build-isolation "$work/package" >"$work/pip.log" 2>&1 ||
  { cat "$work/pip.log"; exit 1; }
cd "$work"  # the installed package, not the source tree's
ULPGATE_LIBRARY=$lib PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$work/package/tests"
