#!/usr/bin/env bash
# Sets up, builds and runs every test (except those labelled `long`), then the sanitizer job:
# the CPU libraries, the host-SIMT kernels and their tests rebuilt with ASan + UBSan, failing on
# any report; then the fuzz job (ci/fuzz.sh, ${ULPGATE_FUZZ_SECONDS:-30} s per parser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
# No GPU here: sm_100a's kernels are compiled to PTX, not through ptxas (CMakeLists.txt says why).
bash ci/build.sh "-DULPGATE_CUDA_ARCHS=90a;100a-virtual"
ctest --test-dir build -LE long --output-on-failure -j "$(nproc)"

echo "== sanitizer job (ASan + UBSan) =="
# -Og -g1 (line tables, enough for ASan's stack traces): measured on CI's 2 cores against -O1, its
# build takes 485 s instead of 712 and its tests 473 s instead of 374, 128 s less in all.
asan_flags="-Og -g1 -DNDEBUG"
# No ccache: nothing else compiles with these flags, so every compile would miss.
CCACHE=0 BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash ci/build.sh -DULPGATE_SANITIZE=ON -DULPGATE_CPU_ONLY=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$asan_flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$asan_flags"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ULPGATE_RANDOM_INPUTS=${ULPGATE_RANDOM_INPUTS:-65536}  # sanitized builds run the random sweeps smaller
# The whole-catalog CLI gates (host_golden_gate, sm90_prediction_gate: 100 s of this job's CPU) run
# in the main job; here the gate's code runs under the sanitizers in GateCli's tests on small files.
ctest --test-dir build-asan -L 'reference|harness|kernels' -LE long -E '^(host_golden_gate|sm90_prediction_gate)$' \
  --output-on-failure -j "$(nproc)"

echo "== fuzz job (libFuzzer, ASan + UBSan) =="
bash ci/fuzz.sh "${ULPGATE_FUZZ_SECONDS:-30}"
