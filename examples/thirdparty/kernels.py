"""Other people's kernels as ulpgate kernels, through ulpgate.torch: SGLang's FP8 Triton kernels and
torchao's blockwise quantizer (their own source files, from their PyPI wheels), FlashInfer's RMSNorm
kernels (its own headers, compiled by flashinfer_norm.cu). Each adapter only allocates, launches the
kernel the way its library's launcher does, and writes the outputs; the arithmetic is theirs.

SRC (default .gpu/thirdparty): the files fetch.sh extracted and built.
"""
import ast
import ctypes
import importlib.util
import os
from pathlib import Path

import torch
import triton
import triton.language as tl

import ulpgate.torch as ut

SRC = Path(os.environ.get("THIRDPARTY_DIR", ".gpu/thirdparty"))
SGLANG = SRC / "sglang/kernels/ops"


def triton_functions(path, *names):
    """The @triton.jit functions of a library's source file, compiled from their own text without
    importing the library (SGLang's package imports its whole server)."""
    tree = ast.parse(path.read_text())
    scope = {"triton": triton, "tl": tl, "torch": torch}
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = set(names) - {n.name for n in found}
    if missing:
        raise LookupError(f"{path}: no function {sorted(missing)}")
    module = ast.Module(body=found, type_ignores=[])
    exec(compile(module, str(path), "exec"), scope)  # noqa: S102 (a library's own kernel source)
    return [scope[n] for n in names]


def load_module(path, name):
    """A library's module from its own file, without importing its package."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _empty_like_codes(call):
    return torch.empty(call.outputs["codes"].shape, dtype=ut.fp8_dtype(call), device="cuda")


def _fp8_range(dtype):
    info = torch.finfo(dtype)
    return info.min, info.max


# ---- SGLang: per-token-group quant (sglang/kernels/ops/quantization/fp8_kernel.py) -------------

_row_quant, _col_quant = triton_functions(SGLANG / "quantization/fp8_kernel.py", "_per_token_group_quant_8bit",
                                          "_per_token_group_quant_8bit_colmajor")


def _launch_config(group_size):
    block = triton.next_power_of_2(group_size)  # as _per_token_group_quant_8bit_raw sets them
    return block, min(max(block // 256, 1), 8)


def sglang_group_quant(call):
    """_per_token_group_quant_8bit (row-major scales) or its colmajor kernel (col / col-tma; with
    ue8m0 the kernel's exp2(ceil(log2 s))), launched as _per_token_group_quant_8bit_raw does, eps 1e-10."""
    x = ut.input(call, "x").contiguous()
    gs, layout = call.params["group_size"], call.params["scale_layout"]
    q = _empty_like_codes(call)
    lo, hi = _fp8_range(q.dtype)
    m, k = x.shape
    block, warps = _launch_config(gs)
    if layout == "row" and not call.params["ue8m0"]:
        s = torch.empty(m, k // gs, dtype=torch.float32, device="cuda")
        _row_quant[(x.numel() // gs,)](x, q, s, gs, gs, 1e-10, bit8_min=lo, bit8_max=hi, BLOCK=block, num_warps=warps,
                                       num_stages=1)
        storage = s
    elif layout in ("col", "col-tma"):
        # As create_per_token_group_quant_fp8_output_scale allocates (torch.empty: what the kernel
        # leaves unwritten stays as it was), so the kernel writes straight into the output.
        rows = m if layout == "col" else -(-m // 4) * 4  # TMA-aligned: the M stride padded to 4
        storage = ut.output(call, "scales").view(torch.float32).reshape(k // gs, rows)
        s = storage[:, :m].t()
        _col_quant[(x.numel() // gs,)](x, q, s, gs, k, s.stride(1), 1e-10, bit8_min=lo, bit8_max=hi, BLOCK=block,
                                       num_warps=warps, num_stages=1, SCALE_UE8M0=bool(call.params["ue8m0"]))
    else:
        raise ut.Refused(f"scale layout {layout} (ue8m0={call.params['ue8m0']}) is not one of SGLang's Triton kernels'")
    ut.write(call, "codes", q)
    if storage.data_ptr() != ut.output(call, "scales").data_ptr():
        ut.write(call, "scales", storage)
    torch.cuda.synchronize()


# ---- SGLang: act_quant (quantization/act_quant_triton.py) ------------------------------------

(_act_quant,) = triton_functions(SGLANG / "quantization/act_quant_triton.py", "_act_quant_kernel")


def sglang_act_quant(call):
    """act_quant: amax floor 1e-4, s = amax * fl(1/448) (or exp2(ceil(log2)) with a scale_fmt),
    x / s; row-major fp32 scales, BLOCK_M 32 as its launcher."""
    x = ut.input(call, "x").contiguous()
    gs = call.params["group_size"]
    if call.params["scale_layout"] != "row" or call.params["format"] != "e4m3fn":
        raise ut.Refused("act_quant writes e4m3fn codes and row-major scales only")
    m, k = x.shape
    q = _empty_like_codes(call)
    s = torch.empty(m, k // gs, dtype=torch.float32, device="cuda")
    round_scale = bool(call.params["ue8m0"])
    _act_quant[(triton.cdiv(m, 32), triton.cdiv(k, gs))](x, q, s, m, k, group_size=gs, round_scale=round_scale,
                                                         BLOCK_M=32, BLOCK_N=gs, num_stages=0 if round_scale else 2)
    ut.write(call, "codes", q)
    ut.write_scales(call, s)


# ---- SGLang: MXFP8 quant (quantization/mxfp8_quant.py) ----------------------------------------

(_mx_quant,) = triton_functions(SGLANG / "quantization/mxfp8_quant.py", "_mxfp8_quant_kernel")


def sglang_mxfp8_quant(call):
    """to_mxfp8: e8m0 exponent = ceil(log2(max(amax, 1e-30) / 448)) clamped to [0, 254] (tl.log2),
    elements x / 2^(e - 127) clamped to +-448; scales one byte per block, row-major."""
    if call.params["scale_layout"] != "mx-row":
        raise ut.Refused("to_mxfp8 writes row-major scale bytes (mx-row)")
    x = ut.input(call, "x").contiguous()
    m, k = x.shape
    q = _empty_like_codes(call)
    s = torch.empty(m, k // 32, dtype=torch.uint8, device="cuda")
    _mx_quant[(triton.cdiv(m, 64), k // 32)](x, q, s, m, k, x.stride(0), x.stride(1), q.stride(0), q.stride(1),
                                             s.stride(0), s.stride(1), BLOCK_M=64)
    ut.write(call, "codes", q)
    ut.write_scales(call, s)


# ---- SGLang: block-FP8 GEMM (gemm/fp8_kernel.py) ----------------------------------------------

(_block_matmul,) = triton_functions(SGLANG / "gemm/fp8_kernel.py", "_w8a8_block_fp8_matmul")
OUT = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def sglang_block_fp8_matmul(call):
    """w8a8_block_fp8_matmul_triton with its default config (BLOCK 64x128x128, GROUP_SIZE_M 32,
    4 warps, 3 stages): A scales (M, K/128) and B scales (N/128, K/128), fp32 row-major."""
    a, b = ut.input(call, "a"), ut.input(call, "b")
    sa, sb = ut.input(call, "scale_a"), ut.input(call, "scale_b")
    (m, k), n = a.shape, b.shape[0]
    kb, nb = -(-k // 128), -(-n // 128)
    sa, sb = sa.reshape(m, kb), sb.reshape(nb, kb)
    c = torch.empty(m, n, dtype=OUT[call.params["out"]], device="cuda")
    grid = (triton.cdiv(m, 64) * triton.cdiv(n, 128),)
    _block_matmul[grid](a, b, c, sa, sb, m, n, k, 128, 128, a.stride(0), a.stride(1), b.stride(1), b.stride(0),
                        c.stride(0), c.stride(1), sa.stride(0), sa.stride(1), sb.stride(1), sb.stride(0),
                        BLOCK_SIZE_M=64, BLOCK_SIZE_N=128, BLOCK_SIZE_K=128, GROUP_SIZE_M=32, num_warps=4, num_stages=3,
                        needs_masking=k % 128 != 0)
    ut.write(call, "d", c)


# ---- torchao: blockwise FP8 quant (torchao/kernel/blockwise_quantization.py) -------------------

_torchao = load_module(SRC / "torchao/kernel/blockwise_quantization.py", "torchao_blockwise_quantization")


def torchao_act_quant(call):
    """fp8_blockwise_act_quant(x, block_size): s = amax / 448, x / s, no floor, no clamp (DeepSeek-V3's
    act_quant); fp32 scales row-major."""
    if call.params["scale_layout"] != "row" or call.params["ue8m0"] or call.params["format"] != "e4m3fn":
        raise ut.Refused("fp8_blockwise_act_quant writes e4m3fn codes and row-major fp32 scales")
    q, s = _torchao.fp8_blockwise_act_quant(ut.input(call, "x").contiguous(), call.params["group_size"])
    ut.write(call, "codes", q)
    ut.write_scales(call, s)


# ---- FlashInfer: RMSNorm, fused add + RMSNorm, fused add + RMSNorm + FP8 block quant -----------

_fi = ctypes.CDLL(str(SRC / "libflashinfer_norm.so"))
_DT = {torch.bfloat16: "bf16", torch.float16: "fp16"}


def _fi_call(fn, *args):
    rc = fn(*args)
    if rc:
        _fi.fi_error_string.restype = ctypes.c_char_p
        raise RuntimeError(f"FlashInfer: {_fi.fi_error_string(rc).decode()}")


def _ptr(t):
    return ctypes.c_void_p(t.data_ptr())


def flashinfer_rmsnorm(call):
    """flashinfer::norm::RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w."""
    x, w = ut.input(call, "x").contiguous(), ut.input(call, "weight").contiguous()
    y = torch.empty_like(x)
    m, d = x.shape
    _fi_call(getattr(_fi, f"fi_rmsnorm_{_DT[x.dtype]}"), _ptr(x), _ptr(w), _ptr(y), m, d, ctypes.c_float(call.params["eps"]))
    ut.write(call, "y", y)


def flashinfer_fused_add_rmsnorm(call):
    """flashinfer::norm::FusedAddRMSNorm: residual += x, x = RMSNorm(residual) * w, both in place."""
    x, w = ut.input(call, "x").clone(), ut.input(call, "weight").contiguous()
    r = ut.input(call, "residual").clone()
    m, d = x.shape
    _fi_call(getattr(_fi, f"fi_fused_add_rmsnorm_{_DT[x.dtype]}"), _ptr(x), _ptr(r), _ptr(w), m, d,
             ctypes.c_float(call.params["eps"]))
    ut.write(call, "y", x)
    ut.write(call, "residual_out", r)


def flashinfer_rmsnorm_fp8_block_quant(call):
    """flashinfer::norm::FusedAddRMSNormFP8BlockQuant with a zero residual (x + 0 is x): RMSNorm
    rounded to the input dtype, amax floor 1e-4, s = amax / 448, q = normed * fl(448 / amax), e4m3
    codes, 1x128 scales column-major with M padded to 4 (col-tma)."""
    p = call.params
    if p["format"] != "e4m3fn" or p["group_size"] != 128 or p["scale_layout"] != "col-tma" or p["ue8m0"]:
        raise ut.Refused("FusedAddRMSNormFP8BlockQuant: e4m3fn, 1x128 groups, col-tma fp32 scales")
    x, w = ut.input(call, "x").clone(), ut.input(call, "weight").contiguous()
    if x.dtype != torch.bfloat16:
        raise ut.Refused("built for bf16")
    m, d = x.shape
    if d % 256 or d > 8192 and d % 512 or d > 16384:
        raise ut.Refused(f"d = {d}: the kernel covers a row in one wave with no bounds guard")
    r, normed = torch.zeros_like(x), torch.empty_like(x)
    q = torch.empty(m, d, dtype=torch.float8_e4m3fn, device="cuda")
    pad = -(-m // 4) * 4
    s = ut.output(call, "scales").view(torch.float32).reshape(d // 128, pad)  # the kernel writes it in place
    _fi_call(_fi.fi_fused_add_rmsnorm_fp8_block_quant_bf16, _ptr(x), _ptr(r), _ptr(w), _ptr(q),
             ctypes.cast(s.data_ptr(), ctypes.POINTER(ctypes.c_float)), _ptr(normed), m, d, pad, ctypes.c_float(p["eps"]))
    ut.write(call, "codes", q)


# name -> (library, kernel, the catalog cases it is judged on: every profile of its op and layout;
# globs or case ids, separated by |)
KERNELS = {
    "sglang per_token_group_quant (row)": ("SGLang 0.5.23", sglang_group_quant, "quant.group/*/e4m3fn/*/row/*"),
    "sglang per_token_group_quant (colmajor)": ("SGLang 0.5.23", sglang_group_quant, "quant.group/*/e4m3fn/*/col*"),
    "sglang act_quant": ("SGLang 0.5.23", sglang_act_quant, "quant.group/*/e4m3fn/*/row*"),
    "sglang to_mxfp8": ("SGLang 0.5.23", sglang_mxfp8_quant, "quant.mx/*/mx-row/*"),
    "sglang w8a8_block_fp8_matmul": ("SGLang 0.5.23", sglang_block_fp8_matmul,
                                     "gemm.block/aiter/e4m3fn.e4m3fn/*|gemm.block/aiter-triton/e4m3fn.e4m3fn/*|"
                                     "gemm.block/aiter-triton/e4m3fn.e4m3fn/fp32/64x256x1024/normal/s2|"
                                     "gemm.block/aiter-triton/e4m3fn.e4m3fn/fp32/64x256x1024/pow2-boundary_emin=-24_emax=0/s1|"
                                     "gemm.block/aiter-triton/e4m3fn.e4m3fn/bf16/64x256x2048/pow2-boundary_emin=-24_emax=0/s3"),
    "torchao fp8_blockwise_act_quant": ("torchao 0.18.0", torchao_act_quant, "quant.group/*/e4m3fn/*/gs128/row/*"),
    "flashinfer RMSNorm": ("FlashInfer 0.7.2.post1", flashinfer_rmsnorm, "norm.rms/*"),
    "flashinfer FusedAddRMSNorm": ("FlashInfer 0.7.2.post1", flashinfer_fused_add_rmsnorm, "norm.rms-add/*"),
    "flashinfer FusedAddRMSNormFP8BlockQuant": ("FlashInfer 0.7.2.post1", flashinfer_rmsnorm_fp8_block_quant,
                                                 "norm.rms-quant/*/e4m3fn/gs128/col-tma/*"),
}
