#!/usr/bin/env bash
# Configures and builds ulpgate into ${BUILD_DIR:-build}: every target, or only ${BUILD_TARGETS}
# (space-separated) when set. Extra arguments go to cmake. C++ compiles go through ccache where it
# is installed, unless CCACHE=0: the Python wheel's build (suites/plugin/python_test.sh) then takes
# the library objects that the main build compiled instead of compiling them again. Depend mode:
# ccache hashes the includes the compiler's own -MD lists, instead of running the preprocessor
# before every compile that misses.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
launcher=()
if [[ ${CCACHE:-1} != 0 ]] && command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_DEPEND=1
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "${launcher[@]}" "$@" >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
