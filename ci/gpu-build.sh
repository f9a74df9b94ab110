#!/usr/bin/env bash
# Builds ulpgate for a CUDA machine that has the CUDA runtime but none of Debian's -dev packages
# (the H200 image): kernels for sm_90a, Boost.Context / GoogleTest / xxHash linked statically,
# cudart, NCCL and OpenMPI's libmpi.so.40 dynamic (the image has OpenMPI 4.1), no LLVM (the APFloat oracle stays on the build machine), no HIP checks.
# Then copies what the GPU run needs into ${GPU_DIST:-.gpu}/ (ignored by git). BUILD_TARGETS
# (space-separated) builds only those targets, e.g. "ulpgate ulpgate_c mma_sync_probe".
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
build=${GPU_BUILD_DIR:-build-gpu}
BUILD_DIR=$build bash ci/build.sh \
  -DBoost_USE_STATIC_LIBS=ON \
  -DXXHASH_LIB=/usr/lib/x86_64-linux-gnu/libxxhash.a \
  -DULPGATE_WITH_LLVM_ORACLE=OFF \
  -DULPGATE_HIP_CHECKS=OFF \
  -DULPGATE_CUDA_ARCHS=90a \
  -DULPGATE_WITH_MPI=ON
dist=${GPU_DIST:-.gpu}
rm -rf "$dist" && mkdir -p "$dist"
# The CLI, the library, the sample plugins, the mma.sync probe (suites/oracle), and the tests that
# exercise a GPU or the kernels (the formats sweeps belong to the CPU machine).
for t in "$build/harness/ulpgate" "$build/harness/libulpgate.so" "$build"/examples/plugin/*.so \
         "$build/suites/oracle/mma_sync_probe" "$build"/suites/kernels/test_* "$build"/suites/quant/test_quant_harness "$build"/suites/quant/test_quant_reference_kernels \
         "$build"/suites/norm/test_norm* "$build"/suites/gemm/test_gemm_reference_gpu "$build"/suites/gemm/test_gemm_kernels \
         "$build"/suites/allreduce/test_allreduce_reference_kernels; do
  if [[ -f $t && ( -x $t || $t == *.so ) ]]; then cp "$t" "$dist/"; fi
done
# MMA-Sim for the oracle step (the GPU machine has PyTorch but no package index).
python3 -m pip download --quiet --no-deps -d "$dist/wheels" mmasim==2.1.1 || echo "gpu-build: no mmasim wheel (the oracle step will say so)"
# The Python package as a wheel (scikit-build-core builds libulpgate.so with the CUDA device copies
# into it), for the wheel and thirdparty steps; its CMake build is kept in build-wheel-gpu/.
if [[ ${WHEEL:-1} != 0 ]]; then
  [[ -x .venv-build/bin/pip ]] || python3 -m venv .venv-build
  .venv-build/bin/pip install --quiet "scikit-build-core>=0.10"
  SKBUILD_BUILD_DIR=$PWD/build-wheel-gpu .venv-build/bin/pip wheel --quiet --no-build-isolation --no-deps \
    -w "$dist/wheels" ./python
fi
# SGLang's, torchao's and FlashInfer's kernels (examples/thirdparty/fetch.sh) when THIRDPARTY=1.
if [[ ${THIRDPARTY:-0} != 0 ]]; then bash examples/thirdparty/fetch.sh "$dist/thirdparty"; fi
strip "$dist"/* 2>/dev/null || true
du -sh "$dist"
