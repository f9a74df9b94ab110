"""A Triton block-scaled FP8 GEMM in the shape serving stacks write it (DeepSeek-V3's `fp8_gemm`,
AITER's Triton block-scale GEMM): one fresh `tl.dot` per 128-K block, then
`acc += tl.dot(a, b) * sa[:, None] * sb[None, :]`. The kernel claims no accumulator model: the
suite identifies, per tile configuration, which accumulation its outputs follow (issue 26, R22:
the autotuner's choice of tile changes the bits). Writes IDENTIFY.md and identify.csv into the
directory given.

    ULPGATE_LIBRARY=.gpu/libulpgate.so PYTHONPATH=python python3 examples/torch/identify_triton_gemm.py OUT_DIR
"""
import csv
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

import ulpgate

ARCH = "sm90"
# gemm.block under the aiter-triton profile: A scales (M, K/128) and B scales (N/128, K/128), fp32,
# row-major; fl(G sa) then an FMA with sb. Normal data, and wide exponents (e4m3 subnormals up to
# 448), where the matrix paths differ; K with a partial last block too.
CASES = [
    "gemm.block/aiter-triton/e4m3fn.e4m3fn/fp32/19x160x672/normal/s1",
    "gemm.block/aiter-triton/e4m3fn.e4m3fn/fp32/64x256x1024/normal/s2",
    "gemm.block/aiter-triton/e4m3fn.e4m3fn/fp32/64x256x1024/pow2-boundary_emin=-24_emax=0/s1",
    "gemm.block/aiter-triton/e4m3fn.e4m3fn/bf16/64x256x2048/pow2-boundary_emin=-24_emax=0/s3",
]
CONFIGS = [  # (BLOCK_M, BLOCK_N, num_warps): 16 rows take mma.sync, 64 and 128 take wgmma on sm90
    (16, 64, 4),
    (64, 64, 4),
    (128, 128, 8),
]


@triton.jit
def _block_fp8_gemm(a_ptr, b_ptr, sa_ptr, sb_ptr, d_ptr, M, N, K, KB,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, OUT_BF16: tl.constexpr):
    pid_m, pid_n = tl.program_id(0), tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kb in range(0, KB):
        k = kb * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * K + k[None, :], mask=(offs_m[:, None] < M) & (k[None, :] < K), other=0.0)
        b = tl.load(b_ptr + offs_n[None, :] * K + k[:, None], mask=(offs_n[None, :] < N) & (k[:, None] < K), other=0.0)
        sa = tl.load(sa_ptr + offs_m * KB + kb, mask=offs_m < M, other=0.0)
        sb = tl.load(sb_ptr + (offs_n // 128) * KB + kb, mask=offs_n < N, other=0.0)
        acc += tl.dot(a, b) * sa[:, None] * sb[None, :]
    out = acc.to(tl.bfloat16) if OUT_BF16 else acc
    tl.store(d_ptr + offs_m[:, None] * N + offs_n[None, :], out, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


PTX_MMA = {}  # config -> the matrix instructions in the kernel's PTX: which path ran
PTX = {}      # config -> the PTX itself (written next to the report)


def kernel_for(block_m, block_n, warps):
    def kernel(call):
        assert call.op == "gemm.block" and call.params["a_format"] == "e4m3fn" == call.params["b_format"]
        a = torch.from_dlpack(call.inputs["a"]).view(torch.float8_e4m3fn)
        b = torch.from_dlpack(call.inputs["b"]).view(torch.float8_e4m3fn)
        sa = torch.from_dlpack(call.inputs["scale_a"]).view(torch.float32)
        sb = torch.from_dlpack(call.inputs["scale_b"]).view(torch.float32)
        d = torch.from_dlpack(call.outputs["d"])
        (m, k), n = a.shape, b.shape[0]
        grid = (triton.cdiv(m, block_m), triton.cdiv(n, block_n))
        compiled = _block_fp8_gemm[grid](a, b, sa, sb, d, m, n, k, triton.cdiv(k, 128), BLOCK_M=block_m,
                                         BLOCK_N=block_n, BLOCK_K=128, OUT_BF16=call.params["out"] == "bf16",
                                         num_warps=warps)
        torch.cuda.synchronize()
        ptx = PTX[(block_m, block_n, warps)] = getattr(compiled, "asm", {}).get("ptx", "")
        PTX_MMA[(block_m, block_n, warps)] = sorted({line.split()[0] for line in ptx.splitlines()
                                                     if line.strip().startswith(("mma", "wgmma.mma_async"))})

    return kernel


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for bm, bn, warps in CONFIGS:
        for case in CASES:
            r = ulpgate.judge(case, kernel_for(bm, bn, warps), arch=ARCH)
            rows.append({"config": f"BLOCK_M={bm} BLOCK_N={bn} warps={warps}", "case": case, "verdict": r.verdict,
                         "digest": f"{r.digest:016x}", "story": r.story,
                         "ptx": " ".join(PTX_MMA.get((bm, bn, warps), []))})
            print(f"{bm:4} {bn:4} {r.verdict:14} {case} [{' '.join(PTX_MMA.get((bm, bn, warps), []))}]\n      {r.story}",
                  flush=True)
    with open(out / "identify.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = ["# A Triton block-scaled FP8 GEMM, identified per tile configuration", "",
          f"{torch.cuda.get_device_name()}, torch {torch.__version__}, Triton {triton.__version__}; "
          "the kernel claims no accumulator model (`ulpgate.judge(case, kernel, arch='sm90')`).", "",
          "| config | matrix instruction (PTX) | case | verdict | what the suite says |", "|---|---|---|---|---|"]
    for r in rows:
        story = r["story"].split("] ", 1)[-1].replace("|", "\\|")
        md.append(f"| {r['config']} | `{r['ptx']}` | `{r['case']}` | {r['verdict']} | {story} |")
    (out / "IDENTIFY.md").write_text("\n".join(md) + "\n")
    for (bm, bn, warps), ptx in PTX.items():
        (out / f"block_fp8_gemm_{bm}x{bn}.ptx").write_text(ptx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
