#!/usr/bin/env bash
# Fetches the third-party kernels examples/thirdparty judges, from their PyPI wheels, into DIR
# (default .gpu/thirdparty): SGLang's Triton kernel sources, torchao's blockwise quantizer, and
# FlashInfer's RMSNorm headers compiled for sm_90a (flashinfer_norm.cu) as its JIT would. Only the
# files the run needs are kept (the GPU machine has no package index).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-.gpu/thirdparty}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"
python3 -m pip download --quiet --no-deps -d "$work" sglang==0.5.23 torchao==0.18.0 flashinfer-python==0.7.2.post1
unzip -q -o "$work"/sglang-*.whl -d "$dir" 'sglang/kernels/ops/quantization/fp8_kernel.py' \
  'sglang/kernels/ops/quantization/act_quant_triton.py' 'sglang/kernels/ops/quantization/mxfp8_quant.py' \
  'sglang/kernels/ops/gemm/fp8_kernel.py'
unzip -q -o "$work"/torchao-*.whl -d "$dir" 'torchao/kernel/blockwise_quantization.py'
unzip -q -o "$work"/flashinfer_python-*.whl -d "$work/fi" 'flashinfer/data/include/*'
/usr/local/cuda/bin/nvcc -std=c++17 -arch=sm_90a -O3 -shared -Xcompiler -fPIC -I"$work/fi/flashinfer/data/include" \
  "$here/flashinfer_norm.cu" -o "$dir/libflashinfer_norm.so"
du -sh "$dir"
