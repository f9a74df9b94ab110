#!/usr/bin/env bash
# Sets up, builds and runs every test (except those labelled `long`), then the sanitizer job:
# the CPU libraries, the host-SIMT kernels and their tests rebuilt with ASan + UBSan, failing on
# any report; then the fuzz job (ci/fuzz.sh, ${ULPGATE_FUZZ_SECONDS:-30} s per parser).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's end, in seconds since the start: where CI's time goes (its target is 45 minutes).
stamp() { echo "== $1: done at $SECONDS s"; }
bash ci/setup.sh
stamp setup
# No GPU here: the CUDA sources are compiled to sm_90a's PTX, not through ptxas, which
# ci/gpu-build.sh runs before every GPU run (on this machine: fused_gpu.cu 67 s -> 42 s). No
# sm_100a: without ptxas its compile is the front end again on the same code paths (no source
# branches on an arch past 900), and it doubled each kernel file's time (quant_gpu.cu 111 -> 50 s).
bash ci/build.sh -DULPGATE_CUDA_ARCHS=90a-virtual -DULPGATE_CUDA_RUN_ARCH=90a-virtual
stamp build
ctest --test-dir build -LE long --output-on-failure -j "$(nproc)"
stamp tests

echo "== sanitizer job (ASan + UBSan) =="
# -Og -g1 (line tables, enough for ASan's stack traces): measured on CI's 2 cores against -O1, its
# build takes 485 s instead of 712 and its tests 473 s instead of 374, 128 s less in all.
asan_flags="-Og -g1 -DNDEBUG"
# No ccache: nothing else compiles with these flags, so every compile would miss.
CCACHE=0 BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash ci/build.sh -DULPGATE_SANITIZE=ON -DULPGATE_CPU_ONLY=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$asan_flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$asan_flags"
stamp "sanitizer build"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ULPGATE_RANDOM_INPUTS=${ULPGATE_RANDOM_INPUTS:-65536}  # sanitized builds run the random sweeps smaller
# ... and every 7th item of the catalog sweeps (suites/sample.hpp; a prime, so that sweeps cycling
# through two or three data kinds or layouts keep them all): 2530 s of this job's CPU was 1280 s
# in ten GEMM and all-reduce sweeps.
export ULPGATE_TEST_SAMPLE=${ULPGATE_TEST_SAMPLE:-7}
# The whole-catalog CLI gates (host_golden_gate, sm90_prediction_gate: 100 s of this job's CPU) run
# in the main job; here the gate's code runs under the sanitizers in GateCli's tests on small files.
# So do the reveal tests that count calls at 8x the length (170 s here): the same code as the order
# tests beside them, which run here.
ctest --test-dir build-asan -L 'reference|harness|kernels' -LE long \
  -E '^(host_golden_gate|sm90_prediction_gate)$|CallsGrowWithTheLogarithmOf' --output-on-failure -j "$(nproc)"
stamp "sanitizer tests"

echo "== fuzz job (libFuzzer, ASan + UBSan) =="
bash ci/fuzz.sh "${ULPGATE_FUZZ_SECONDS:-30}"
stamp fuzz
