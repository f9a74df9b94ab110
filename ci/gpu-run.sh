#!/usr/bin/env bash
# The GPU suite, on any CUDA machine with the binaries from ci/gpu-build.sh in ${GPU_DIST:-.gpu}.
# Logs go to ${OUT:-gpu-out}/. Steps (all by default; name some to run only those):
#   tests   every GPU test binary (kernels on the device, the device GEMM reference)
#   gate    quant, norm and moe on the cuda backend, gated against golden/sm90
#   golden  hardware golden rows into $OUT/golden (a copy of golden/; never the repository's own):
#           the cases the gate reported as new (quant, norm, moe), gemm on cuda and vendor (ci tier), moe's full tier
#   bench   `ulpgate bench` (bandwidth rows; the GEMM reference beside cuBLASLt) into $OUT/bench.csv
#   allreduce  (several GPUs) the custom and fused kernels (cuda, rank r on GPU r) and NCCL (vendor) on
#           every world size the machine has: hardware golden rows into $OUT/golden, NCCL's order
#           revealed into $OUT/reveal-nccl and its rings as rows into $OUT/nccl-ring-rows.txt
#   allreduce_bench  (several GPUs) the all-reduce bench table on those worlds (custom vs NCCL, 16 B to
#           1 GiB; fused vs NCCL + norm, 1 to 16384 tokens) into $OUT/allreduce-bench.csv
#   signoff `ulpgate signoff --arch sm90` (all-reduce world 2 needs two GPUs): its bundle in $OUT/signoff-sm90
#   plugin  the CUDA sample plugin (device tensors through the C API) against the cuda backend
#   mpi        (several GPUs) the all-reduce gate, plain and fused, with one rank per process and GPU (mpirun)
#   mpi_gate   (several GPUs) the quant/norm gate shared out over the GPUs (mpirun, a GPU per process)
#   oracle  the model rows against MMA-Sim (suites/oracle/mmasim_oracle.py, the mmasim wheel from
#           $dist/wheels), and Hopper's mma.sync FP8 measured against the rows (mma_sync_oracle.py)
#   identify  the Triton block-scaled FP8 GEMM of examples/torch, identified per tile configuration
#   wheel   the package's wheel ($dist/wheels, its own libulpgate.so with CUDA) installed, its tests run
#   compile torch.compile of the bench's quantization ops, timed on the same shapes: $OUT/compile-bench.csv
#           (examples/torch/bench_compile.py; run beside `bench` in one device call to compare)
#   compile_allreduce  (several GPUs) torch.compile after NCCL (examples/torch/bench_compile_allreduce.py):
#           $OUT/compile-allreduce.csv, the peer of the `allreduce` step's fused table
#   reveal  `ulpgate reveal` of the suite's RMSNorm kernels (cuda) and of torch's (examples/torch/reveal_torch.py):
#           their sum-of-squares trees into $OUT/reveal
#   moe     a Triton grouped FP8 GEMM in the fused-MoE shape (examples/torch/moe_triton.py), identified and
#           judged per expert, and three faulty forms of it: $OUT/moe/MOE.md
#   thirdparty  SGLang's, torchao's and FlashInfer's kernels judged through the installed wheel
#           (examples/thirdparty/gate.py; THIRDPARTY=1 bash ci/gpu-build.sh fetches them): $OUT/thirdparty
# Exit 1 when a test or the gate fails; the golden step reports failures in its log.
set -uo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # NVLink multicast stays off
cd "$(dirname "$0")/.."
dist=${GPU_DIST:-.gpu}
out=${OUT:-gpu-out}
steps=("$@")
((${#steps[@]})) || steps=(tests gate golden bench)
mkdir -p "$out"
ulpgate=$dist/ulpgate
device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
toolkit="built with CUDA 13 (ci/gpu-build.sh); driver $(nvidia-smi | grep -o 'CUDA Version: [0-9.]*')"
echo "$device, driver $driver" | tee "$out/device.txt"
rc=0

step_tests() {
  for t in "$dist"/test_*; do
    local log=$out/$(basename "$t").log t0=$SECONDS
    if "$t" --gtest_brief=1 >"$log" 2>&1; then echo "ok      $(basename "$t") ($((SECONDS - t0)) s)"
    else rc=1; echo "FAILED  $(basename "$t")"; tail -20 "$log"; fi
  done
}

step_gate() {
  "$ulpgate" gate --golden golden/sm90 --backend cuda --filter '[mnq]*' --allow-new >"$out/gate-sm90.log" 2>&1 || rc=1
  tail -3 "$out/gate-sm90.log"
}

update() {  # update NAME ARGS...: golden rows from real hardware into $out/golden
  local name=$1; shift
  "$ulpgate" golden update --arch sm90 --root "$out/golden" --hardware --device "$device" --driver "$driver" --toolkit "$toolkit" "$@" \
    >"$out/golden-$name.log" 2>&1 || echo "golden update $name: exit $?"
  grep -E '^(FAIL|skipped|wrote)' "$out/golden-$name.log" | head -40
}

step_golden() {
  rm -rf "$out/golden" && mkdir -p "$out/golden" && cp -r golden/sm90 "$out/golden/"
  local id
  for id in $(awk '$1 == "new" { print $2 }' "$out/gate-sm90.log" 2>/dev/null); do update "new-$(tr -c 'a-z0-9' _ <<<"$id")" --backend cuda --filter "$id"; done
  update gemm-cuda --backend cuda --filter 'gemm*'
  update gemm-vendor --backend vendor --filter 'gemm*'
  # cuBLASLt at DeepSeek-V3's N x K, M = 128 (full tier; the host replays the model: minutes).
  timeout "${FULL_TIER_SECONDS:-300}" bash -c "$(declare -f update); out=$out ulpgate=$ulpgate device='$device' driver='$driver' toolkit='$toolkit';
    update gemm-vendor-full --backend vendor --tier full --filter 'gemm*/cublaslt*/128x*'" || echo "full tier: exit $?"
  # The grouped GEMM at DeepSeek-V3's MoE layer (full tier: 256 experts, the host judges per expert).
  timeout "${FULL_TIER_SECONDS:-300}" bash -c "$(declare -f update); out=$out ulpgate=$ulpgate device='$device' driver='$driver' toolkit='$toolkit';
    update moe-full --backend cuda --tier full --filter 'moe*'" || echo "moe full tier: exit $?"
  # A bundle per failing vendor case, to test hypotheses on the host afterwards.
  for id in $(awk '$1 == "FAIL" { print $2 }' "$out"/golden-gemm-vendor*.log); do
    "$ulpgate" repro "$id" --backend vendor --dump "$out/bundles/$(tr -c 'a-zA-Z0-9.' _ <<<"$id")" >/dev/null 2>&1
  done
}

# The world sizes this machine's GPUs allow (the custom kernels' 2, 4, 6, 8).
worlds() {
  local n w
  n=$(nvidia-smi -L | wc -l)
  for w in 2 4 6 8; do if ((w <= n)); then echo "$w"; fi; done
}

step_allreduce() {
  [[ -d $out/golden/sm90 ]] || { mkdir -p "$out/golden" && cp -r golden/sm90 "$out/golden/"; }
  update allreduce-cuda --backend cuda --filter 'allreduce*'
  update allreduce-vendor --backend vendor --filter 'allreduce*'
  reveal_nccl $(worlds)
}

step_allreduce_bench() {
  "$ulpgate" bench --allreduce $(worlds) --csv "$out/allreduce-bench.csv" 2>&1 | tee "$out/allreduce-bench.log" | tail -120
}

# NCCL's order of the ranks per element (`ulpgate reveal`) at each world: at the shape of every NCCL
# case of that world up to 2^24 elements (dtype, elements, view, placement; the inputs do not
# matter; beyond that the reveal's host memory grows past what it is worth) and at sizes around where
# its protocol changes (LL, LL128, Simple): $out/reveal-nccl/, a log per case. A revealed ring goes
# into reference/allreduce/nccl_ring.cpp as a row; the host then replays NCCL's golden rows.
reveal_nccl() {
  local w n id
  mkdir -p "$out/reveal-nccl"
  for w in "$@"; do
    for id in $({ "$ulpgate" list --tier full --filter "allreduce/nccl/*/w$w/*" | cut -d/ -f1-6 |
                    awk -F/ '{ split($5, n, "@"); if (n[1] + 0 <= 16777216) print }'
                  for n in 1024 65536 1048576 16777216; do echo "allreduce/nccl/bf16/w$w/$n/out-of-place"; done; } | sort -u); do
      local log=$out/reveal-nccl/$(cut -d/ -f3- <<<"$id" | tr -c 'a-z0-9@+\n' _).log
      timeout 300 "$ulpgate" reveal --case "$id/normal/s1" --backend vendor >"$log" 2>&1 || rc=1
      echo "$id: $(head -c 2000 "$log" | sed -n '1,6p' | tr '\n' ' ')"
    done
  done
  # The rings reveal fitted, ready for reference/allreduce/nccl_ring.cpp (SOURCE: this machine).
  grep -h "^as a row of" "$out"/reveal-nccl/*.log | sed 's/.*: //' | sort -u >"$out/nccl-ring-rows.txt"
  echo "$(wc -l <"$out/nccl-ring-rows.txt") ring rows fitted: $out/nccl-ring-rows.txt"
}

# One rank per process: mpirun -np W, each process one GPU (custom and the fused allreduce.rms:
# CUDA IPC; NCCL: ncclCommInitRank), gated against the rows of the one-process run ($out/golden when
# the allreduce step wrote it in this call, else the repository's).
step_mpi() {
  local n w golden=golden/sm90
  [[ -d $out/golden/sm90 ]] && golden=$out/golden/sm90
  n=$(nvidia-smi -L | wc -l)
  local mpi=(mpirun --allow-run-as-root --oversubscribe -x NCCL_NVLS_ENABLE=0)
  for w in 2 4 6 8; do
    ((w <= n)) || continue
    "${mpi[@]}" -np "$w" "$ulpgate" gate --golden "$golden" --backend cuda --filter "allreduce/custom-*/*/w$w/*" \
      >"$out/mpi-custom-w$w.log" 2>&1 || rc=1
    "${mpi[@]}" -np "$w" "$ulpgate" gate --golden "$golden" --backend vendor --filter "allreduce/nccl/*/w$w/*" \
      >"$out/mpi-nccl-w$w.log" 2>&1 || rc=1
    "${mpi[@]}" -np "$w" "$ulpgate" gate --golden "$golden" --backend cuda --filter "allreduce.rms*/*/w$w/*" \
      >"$out/mpi-fused-w$w.log" 2>&1 || rc=1
    tail -n 2 "$out/mpi-custom-w$w.log" "$out/mpi-nccl-w$w.log" "$out/mpi-fused-w$w.log"; grep -h "^mpi:" "$out"/mpi-*-w$w.log
  done
}

step_mpi_gate() {
  local n
  n=$(nvidia-smi -L | wc -l)
  mpirun --allow-run-as-root --oversubscribe -x NCCL_NVLS_ENABLE=0 -np "$n" "$ulpgate" gate --golden golden/sm90 --backend cuda \
    --filter '[nq]*' >"$out/mpi-gate.log" 2>&1 || rc=1
  grep '^mpi:' "$out/mpi-gate.log"; tail -3 "$out/mpi-gate.log"
}

# The plugin ABI on device tensors: the CUDA sample plugin (the suite's CUDA quantization kernels
# behind the C API) gives the cuda backend's digests on every quant case.
step_plugin() {
  "$ulpgate" run --backend cuda --filter 'quant*' --csv "$out/plugin-cuda.csv" >"$out/plugin-cuda.log" 2>&1 || rc=1
  "$ulpgate" run --backend "plugin:$dist/libulpgate_sample_cuda_plugin.so" --arch sm90 --filter 'quant*' \
    --csv "$out/plugin-sample.csv" >"$out/plugin-sample.log" 2>&1 || rc=1
  if diff <(cut -d, -f1-3,5-13 "$out/plugin-cuda.csv") <(cut -d, -f1-3,5-13 "$out/plugin-sample.csv") >"$out/plugin.diff"; then
    echo "plugin: the CUDA sample plugin = the cuda backend on $(($(wc -l <"$out/plugin-cuda.csv") - 1)) quant cases"
  else rc=1; echo "plugin: digests differ"; head -5 "$out/plugin.diff"; fi
  # References on the device when asked (ULPGATE_DEVICE_REFERENCES=cuda): the same verdicts and
  # digests as with the host's, for the CUDA sample plugin and for the host one (quant, norm, GEMM).
  plugin_device_references sample "plugin:$dist/libulpgate_sample_cuda_plugin.so" sm90 'quant*'
  plugin_device_references host "plugin:$dist/libulpgate_sample_plugin.so" host-w32 '[qn]*/vllm/*'
  plugin_device_references gemm "plugin:$dist/libulpgate_sample_plugin.so" host-w32 'gemm.*/cublaslt/*'
}

plugin_device_references() {  # NAME BACKEND ARCH FILTER
  local name=$1 f=$out/plugin-$1
  "$ulpgate" run --backend "$2" --arch "$3" --filter "$4" --csv "$f-host.csv" >"$f-host.log" 2>&1 || rc=1
  ULPGATE_DEVICE_REFERENCES=cuda "$ulpgate" run --backend "$2" --arch "$3" --filter "$4" --csv "$f-dev.csv" >"$f-dev.log" 2>&1 || rc=1
  if diff <(cut -d, -f1-3,5-13 "$f-host.csv") <(cut -d, -f1-3,5-13 "$f-dev.csv") >"$f.diff"; then
    echo "plugin ($name): $(grep -c 'references on cuda' "$f-dev.csv") of $(($(wc -l <"$f-dev.csv") - 1)) cases with references on the device, every row as with the host's"
  else rc=1; echo "plugin ($name): device references change rows"; head -5 "$f.diff"; fi
}

step_oracle() {
  local lib=$out/pylib
  python3 -m pip install --quiet --no-index --no-deps --target "$lib" "$dist"/wheels/mmasim-*.whl >"$out/pip.log" 2>&1 ||
    { echo "oracle: cannot install the mmasim wheel (ci/gpu-build.sh puts it in $dist/wheels)"; cat "$out/pip.log"; }
  PYTHONPATH=$lib ULPGATE_LIBRARY=$dist/libulpgate.so python3 suites/oracle/mmasim_oracle.py >"$out/oracle.log" 2>&1 || rc=1
  grep -v "^ok " "$out/oracle.log" | tail -30; echo "($(grep -c '^ok ' "$out/oracle.log") instruction x format pairs agree)"
  ULPGATE_LIBRARY=$dist/libulpgate.so python3 suites/oracle/mma_sync_oracle.py "$dist/mma_sync_probe" "$out/mma-probe" \
    >"$out/mma-sync.log" 2>&1 || rc=1
  cat "$out/mma-sync.log"
}

step_identify() {
  ULPGATE_LIBRARY=$dist/libulpgate.so PYTHONPATH=python python3 examples/torch/identify_triton_gemm.py "$out/identify" \
    >"$out/identify.log" 2>&1 || rc=1
  tail -40 "$out/identify.log"
}

# The wheel into $pylib (no index here; PyTorch and numpy are the image's): ULPGATE_LIBRARY unset,
# so everything below loads the library the wheel carries.
pylib=${PYLIB:-/tmp/ulpgate-pylib}
install_wheel() {
  [[ -f $pylib/ulpgate/libulpgate.so ]] && return
  python3 -m pip install --quiet --no-index --no-deps --target "$pylib" "$dist"/wheels/ulpgate-*.whl >"$out/pip-wheel.log" 2>&1 ||
    { rc=1; echo "wheel: cannot install $dist/wheels/ulpgate-*.whl"; cat "$out/pip-wheel.log"; }
}

step_wheel() {
  install_wheel
  (cd "$out" && env -u ULPGATE_LIBRARY PYTHONPATH=$pylib python3 -m pytest -q -p no:cacheprovider \
    "$OLDPWD/python/tests" >wheel-tests.log 2>&1) || rc=1
  tail -3 "$out/wheel-tests.log"
}

step_thirdparty() {
  install_wheel
  env -u ULPGATE_LIBRARY PYTHONPATH="$pylib:examples/thirdparty" THIRDPARTY_DIR="$dist/thirdparty" \
    python3 examples/thirdparty/gate.py "$out/thirdparty" >"$out/thirdparty.log" 2>&1 || rc=1
  grep -v "^exact\|^within-budget" "$out/thirdparty.log" | tail -30; cat "$out/thirdparty/REPORT.md" 2>/dev/null | head -80
}

step_reveal() {
  mkdir -p "$out/reveal"
  for c in norm.rms:4x256 norm.rms:4x4096 norm.rms:4x7168 norm.rms:4x16384 norm.rms-quant:4x7168; do
    "$ulpgate" reveal --op "${c%%:*}" --shape "${c#*:}" --backend cuda >"$out/reveal/${c/:/-}.log" 2>&1 || rc=1
    cat "$out/reveal/${c/:/-}.log"
  done
  ULPGATE_LIBRARY=$dist/libulpgate.so PYTHONPATH=python:examples/torch python3 examples/torch/reveal_torch.py "$out/reveal" \
    >"$out/reveal/torch.log" 2>&1 || rc=1
  cat "$out/reveal/REVEAL.md" 2>/dev/null || tail -30 "$out/reveal/torch.log"
}

step_moe() {
  mkdir -p "$out/moe"
  ULPGATE_LIBRARY=$dist/libulpgate.so PYTHONPATH=python python3 examples/torch/moe_triton.py "$out/moe" \
    >"$out/moe/triton.log" 2>&1 || rc=1
  cat "$out/moe/MOE.md" 2>/dev/null || tail -30 "$out/moe/triton.log"
}

step_bench() {
  "$ulpgate" bench --csv "$out/bench.csv" --html "$out/bench.html" 2>&1 | tee "$out/bench.log" | tail -20
}

# (several GPUs) torch.compile after NCCL's all-reduce, one process per GPU, at the fused table's
# token counts: $OUT/compile-allreduce.csv (run beside `allreduce` in one device call to compare).
step_compile_allreduce() {
  python3 -m torch.distributed.run --nproc-per-node "$(nvidia-smi -L | wc -l)" examples/torch/bench_compile_allreduce.py \
    >"$out/compile-allreduce.csv" 2>"$out/compile-allreduce.log" || { rc=1; tail -20 "$out/compile-allreduce.log"; }
  cat "$out/compile-allreduce.csv"
}

step_compile() {
  python3 examples/torch/bench_compile.py >"$out/compile-bench.csv" 2>"$out/compile-bench.log" || { rc=1; tail -20 "$out/compile-bench.log"; }
  cat "$out/compile-bench.csv"
}

# The bring-up command on this machine's GPU: every family on the cuda and vendor backends, gated
# against golden/sm90; the bundle (report.html, junit.xml, results.csv, summary.txt) in $OUT.
step_signoff() {
  "$ulpgate" signoff --arch sm90 --out "$out/signoff-sm90" >"$out/signoff-sm90.log" 2>&1 || rc=1
  sed -n '/^ulpgate signoff/,$p' "$out/signoff-sm90.log" | head -40
}

for s in "${steps[@]}"; do
  t0=$SECONDS
  echo "== $s"
  "step_$s"
  echo "== $s: $((SECONDS - t0)) s"
done
exit $rc
