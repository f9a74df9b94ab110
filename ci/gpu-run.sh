#!/usr/bin/env bash
# The GPU suite, on any CUDA machine with the binaries from ci/gpu-build.sh in ${GPU_DIST:-.gpu}:
# kernel tests on the device, the sweep on the cuda backend gated against golden/sm90, the bench.
# Logs go to ${OUT:-gpu-out}/.
set -uo pipefail
cd "$(dirname "$0")/.."
dist=${GPU_DIST:-.gpu}
out=${OUT:-gpu-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/device.txt"
rc=0
for t in "$dist"/test_*; do
  "$t" --gtest_brief=1 >"$out/$(basename "$t").log" 2>&1 || { rc=1; echo "FAILED: $t"; tail -20 "$out/$(basename "$t").log"; }
done
"$dist/ulpgate" "$@" 2>&1 | tee "$out/run.log"
exit $rc
