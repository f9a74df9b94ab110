#!/usr/bin/env bash
# Provenance names the commit a binary was built from, read at build time (cmake/build_info.cmake),
# not when CMake configured: in a scratch repository the script stamps HEAD, leaves its output
# untouched (so nothing recompiles) while HEAD stays, restamps after a commit, and says `unknown`
# outside git; `ulpgate --version` shows what the build stamped.
# Usage: build_info_test.sh CMAKE SOURCE_DIR ULPGATE
set -euo pipefail
cmake=$1 source_dir=$2 ulpgate=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
out=$work/build_info.cpp
stamp() { "$cmake" -DSOURCE_DIR="$1" -DVERSION=9.8.7 -DOUT="$out" -P "$source_dir/cmake/build_info.cmake"; }
commit() { git -C "$work/repo" -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m "$1"; }
head12() { git -C "$work/repo" rev-parse --short=12 HEAD; }
expect() { grep -qF "$1" "$out" || fail "$2: expected '$1' in $(cat "$out")"; }

git init -q "$work/repo"
commit one
stamp "$work/repo"
expect "return \"$(head12)\"" "first stamp"
expect 'return "9.8.7"' "version"
before=$(stat -c %y "$out")
sleep 0.05
stamp "$work/repo"
[[ $(stat -c %y "$out") == "$before" ]] || fail "an unchanged HEAD rewrote $out (everything that links it would relink)"
commit two
stamp "$work/repo"
expect "return \"$(head12)\"" "after a commit"
mkdir "$work/plain"
stamp "$work/plain"
expect 'return "unknown"' "outside git"

version=$("$ulpgate" --version) || fail "ulpgate --version exited $?"
[[ $version =~ ^ulpgate\ [0-9.]+\ \(commit\ ([0-9a-f]{12}|unknown)\)$ ]] || fail "ulpgate --version printed '$version'"
echo "ok: $version"
