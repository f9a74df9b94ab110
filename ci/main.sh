#!/usr/bin/env bash
# Sets up, builds and runs the main job: the default conformance sweep (on a GPU when one is
# present, else on the host emulation). It builds only the CLI: with the CUDA kernels into build/
# when a toolkit and a GPU are present, CPU-only into build-host/ otherwise (no test binaries, no
# device code, no HIP checks). Extra arguments go to `ulpgate run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
if [ -x /usr/local/cuda/bin/nvcc ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  dir=build flags=()
else
  dir=build-host flags=(-DULPGATE_CPU_ONLY=ON -DULPGATE_HIP_CHECKS=OFF)
fi
BUILD_DIR=$dir BUILD_TARGETS=ulpgate bash ci/build.sh "${flags[@]}"
"./$dir/harness/ulpgate" run --backend auto "$@"
