#!/usr/bin/env bash
# The plugin ABI end to end (include/ulpgate/ulpgate.h), through the CLI as a user runs it:
# - the sample plugin (the host kernels behind the C API) gives the host backend's results, digest
#   for digest, on every quant, norm, GEMM and custom all-reduce case it claims (the all-reduce's
#   refusals included), and the NCCL cases, which it does not claim, are declined;
# - every class of bad plugin gets its defined result: exit 3 naming the symbol, the version or
#   the row; verdict `error` with the plugin's message; `out-of-bounds` naming the tensor and the
#   offset; with --isolate, a crash or a hang is an `error` naming the signal or the timeout, and
#   the sweep goes on.
# Usage: plugin_test.sh ULPGATE SAMPLE_PLUGIN BAD_PLUGIN_DIR
set -uo pipefail
ulpgate=$1 sample=$2 bad=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
bad() { echo "$bad/libulpgate_bad_$1.so"; }

# expect_exit CODE PATTERN ARGS...: ulpgate exits CODE and its output matches PATTERN.
expect_exit() {
  local code=$1 pattern=$2; shift 2
  "$ulpgate" "$@" >"$work/out" 2>&1
  local got=$?
  [[ $got -eq $code ]] || fail "ulpgate $* exited $got, expected $code: $(tail -5 "$work/out")"
  grep -Eq "$pattern" "$work/out" || fail "ulpgate $*: no line matches '$pattern': $(tail -5 "$work/out")"
}

# 1. The sample plugin is the host backend, case for case.
filter='[qn]*/vllm/*'  # and below the cuBLASLt-profile GEMMs (the sample's claim: fp32-fma)
"$ulpgate" run --backend host --arch host-w32 --filter "$filter" --csv "$work/host.csv" >"$work/host.log" 2>&1 ||
  fail "host run: $(tail -5 "$work/host.log")"
"$ulpgate" run --backend "plugin:$sample" --arch host-w32 --filter "$filter" --csv "$work/plugin.csv" >"$work/plugin.log" 2>&1 ||
  fail "sample plugin run: $(tail -5 "$work/plugin.log")"
rows() { cut -d, -f1-3,5-13 "$1"; }  # every column but the backend's name
[[ $(wc -l <"$work/host.csv") -gt 100 ]] || fail "too few cases: $(wc -l <"$work/host.csv")"
diff <(rows "$work/host.csv") <(rows "$work/plugin.csv") >"$work/diff" || fail "the sample plugin differs from the host backend: $(head -4 "$work/diff")"
grep -q '^plugin:sample@host-w32' <(cut -d, -f4 "$work/plugin.csv" | sort -u) || fail "the backend column does not name the plugin"
"$ulpgate" run --backend host --arch host-w32 --filter 'gemm.*/cublaslt/*' --csv "$work/host-gemm.csv" >/dev/null 2>&1
"$ulpgate" run --backend "plugin:$sample" --arch host-w32 --filter 'gemm.*/cublaslt/*' --csv "$work/plugin-gemm.csv" >/dev/null 2>&1
[[ $(wc -l <"$work/host-gemm.csv") -gt 10 ]] || fail "too few GEMM cases: $(wc -l <"$work/host-gemm.csv")"
diff <(rows "$work/host-gemm.csv") <(rows "$work/plugin-gemm.csv") >"$work/diff" || fail "the sample plugin's GEMMs differ from the host backend's: $(head -4 "$work/diff")"
grep -q 'claims fp32-fma' "$work/plugin-gemm.csv" || fail "the GEMM rows do not carry the plugin's claimed model"
"$ulpgate" run --backend host --arch host-w32 --filter 'moe.*' --csv "$work/host-moe.csv" >/dev/null 2>&1
"$ulpgate" run --backend "plugin:$sample" --arch host-w32 --filter 'moe.*' --csv "$work/plugin-moe.csv" >/dev/null 2>&1
[[ $(wc -l <"$work/host-moe.csv") -gt 10 ]] || fail "too few moe cases: $(wc -l <"$work/host-moe.csv")"
diff <(rows "$work/host-moe.csv") <(rows "$work/plugin-moe.csv") >"$work/diff" || fail "the sample plugin's grouped ops differ from the host backend's: $(head -4 "$work/diff")"
"$ulpgate" run --backend host --arch host-w32 --filter 'allreduce/custom-*' --csv "$work/host-ar.csv" >/dev/null 2>&1
"$ulpgate" run --backend "plugin:$sample" --arch host-w32 --filter 'allreduce/custom-*' --csv "$work/plugin-ar.csv" >/dev/null 2>&1
[[ $(wc -l <"$work/host-ar.csv") -gt 50 ]] || fail "too few all-reduce cases: $(wc -l <"$work/host-ar.csv")"
grep -q 'refused, as allowed' "$work/host-ar.csv" || fail "no all-reduce case exercises a refusal"
diff <(rows "$work/host-ar.csv") <(rows "$work/plugin-ar.csv") >"$work/diff" || fail "the sample plugin's all-reduces differ from the host backend's: $(head -4 "$work/diff")"
expect_exit 2 'no selected case runs' run --backend "plugin:$sample" --arch host-w32 --filter 'allreduce/nccl/*'

# References on the device, asked for by ULPGATE_DEVICE_REFERENCES: a value other than cuda is
# exit 3; without a GPU (or without CUDA) so is cuda, naming why. (On a GPU: ci/gpu-run.sh plugin.)
ULPGATE_DEVICE_REFERENCES=rocm expect_exit 3 'ULPGATE_DEVICE_REFERENCES=rocm: expected cuda' \
  run --backend "plugin:$sample" --arch host-w32 --filter 'quant.token/vllm/*'
if ! nvidia-smi -L >/dev/null 2>&1; then
  ULPGATE_DEVICE_REFERENCES=cuda expect_exit 3 'ULPGATE_DEVICE_REFERENCES=cuda: (cudaGetDeviceCount failed|no CUDA device|this build computes references on the host only)' \
    run --backend "plugin:$sample" --arch host-w32 --filter 'quant.token/vllm/*'
fi

# 2. Plugins that cannot be used: exit 3, naming what is wrong.
expect_exit 3 'cannot load' run --backend "plugin:$work/missing.so" --filter 'quant.token/vllm/*'
expect_exit 3 'does not export ulpgate_plugin_entry' run --backend "plugin:$(bad no_entry)" --filter 'quant.token/vllm/*'
expect_exit 3 'ABI version 0, this ulpgate speaks versions 1 to [0-9]' run --backend "plugin:$(bad old_abi)" --filter 'quant.token/vllm/*'
expect_exit 3 'ABI version [0-9]+, this ulpgate speaks versions 1 to' run --backend "plugin:$(bad future_abi)" --filter 'quant.token/vllm/*'
expect_exit 3 'op row 0 lacks' run --backend "plugin:$(bad malformed)" --filter 'quant.token/vllm/*'

# 3. Plugins that run and misbehave: a verdict for each case, the sweep goes on.
token='quant.token/vllm/*'
expect_exit 1 'error.*returned 7: no kernel for K = ' run --backend "plugin:$(bad fails)" --arch host-w32 --filter "$token"
expect_exit 1 'error.*refused the input: takes K a multiple of 256 only' run --backend "plugin:$(bad refuses)" --arch host-w32 --filter "$token"
expect_exit 1 'out-of-bounds.*codes' run --backend "plugin:$(bad stray)" --arch host-w32 --filter "$token"
cases=$("$ulpgate" list --filter "$token" | wc -l)
expect_exit 1 'SIGSEGV|signal 11' run --backend "plugin:$(bad crash)" --arch host-w32 --filter "$token" --isolate --csv "$work/crash.csv"
[[ $(grep -c ',error,' "$work/crash.csv") -eq $cases ]] || fail "--isolate: $cases crashing cases should each be an error: $(cat "$work/crash.csv")"
expect_exit 1 'did not finish in 2 s' run --backend "plugin:$(bad hang)" --arch host-w32 --filter 'quant.token/vllm/e4m3fn/bf16/*/zeros/*' --isolate --timeout 2
echo "ok: sample plugin = host backend on $(($(wc -l <"$work/host.csv") + $(wc -l <"$work/host-gemm.csv") + $(wc -l <"$work/host-ar.csv") - 3)) cases; 5 unusable and 5 misbehaving plugins got their results"
