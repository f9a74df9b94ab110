#!/usr/bin/env bash
# Configures and builds ulpgate into ${BUILD_DIR:-build}: every target, or only ${BUILD_TARGETS}
# (space-separated) when set. Extra arguments go to cmake. C++ compiles go through ccache where it
# is installed: the Python wheel's build (suites/plugin/python_test.sh) then takes the library
# objects that the main build compiled instead of compiling them again.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "${launcher[@]}" "$@" >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
