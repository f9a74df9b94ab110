"""Kernels nobody at ulpgate wrote the arithmetic of: PyTorch's own ops, and quantization / RMSNorm
written the way serving stacks write them, each wrapped as an ulpgate kernel (a function of the op
call: read the inputs, write the outputs in place). Everything runs on the GPU; judged for arch sm90,
the call's tensors are CUDA memory (torch.from_dlpack shares it)."""
import torch
import torch.nn.functional as F

try:
    import triton
    import triton.language as tl
except ImportError:  # the Triton kernel is skipped where Triton is missing
    triton = None

DEVICE = "cuda"
# One compiled graph per shape and dtype the catalog has: keep them all rather than fall back to eager.
torch._dynamo.config.cache_size_limit = 256
if hasattr(torch._dynamo.config, "recompile_limit"):
    torch._dynamo.config.recompile_limit = 256
FP8 = {"e4m3fn": torch.float8_e4m3fn, "e4m3fnuz": torch.float8_e4m3fnuz}


def tensor(t):
    """A call tensor as a torch tensor on the GPU (bf16/fp16/fp32 as such, bytes as uint8)."""
    return torch.from_dlpack(t).to(DEVICE)


def write_bytes(t, value):
    """Writes a GPU result's bytes into a call output (codes, scale storage, y) and waits for the
    copy: the suite reads the output when the kernel returns."""
    dst = torch.from_dlpack(t).view(torch.uint8).reshape(-1)
    src = value.contiguous().reshape(-1).view(torch.uint8)
    dst[: src.numel()].copy_(src)
    torch.cuda.synchronize()


# ---- per-token-group FP8 quantization --------------------------------------------------------

def native_group_quant(x, group_size, dtype, eps=1e-10):
    """The plain-PyTorch reference serving stacks keep beside their kernels (vLLM's tests,
    SGLang's): amax per group with .clamp(min=eps) in the input dtype, s = amax / finfo.max,
    q = (x / s).clamp(finfo.min, finfo.max).to(fp8)."""
    finfo = torch.finfo(dtype)
    g = x.reshape(-1, group_size)
    amax = g.abs().amax(dim=-1, keepdim=True).clamp(min=eps).to(torch.float32)
    s = amax / finfo.max
    q = (g / s).clamp(min=finfo.min, max=finfo.max).to(dtype)
    return q.reshape(x.shape), s.reshape(x.shape[0], -1)


_compiled_group_quant = torch.compile(native_group_quant)


if triton is not None:

    @triton.jit
    def _group_quant_kernel(x_ptr, q_ptr, s_ptr, eps, fp8_max, GROUP: tl.constexpr):
        # One program per group: written here from the vllm-triton profile's contract
        # (spec/quant.md): amax = max(|x|, eps) in fp32, s = amax / max, q = clamp(x / s), cast.
        g = tl.program_id(0)
        offs = g * GROUP + tl.arange(0, GROUP)
        x = tl.load(x_ptr + offs).to(tl.float32)
        amax = tl.maximum(tl.max(tl.abs(x), axis=0), eps)
        s = amax / fp8_max
        q = tl.clamp(x / s, -fp8_max, fp8_max)
        tl.store(q_ptr + offs, q.to(q_ptr.dtype.element_ty))
        tl.store(s_ptr + g, s)


def triton_group_quant(x, group_size, dtype, eps=1e-10):
    q = torch.empty(x.shape, dtype=dtype, device=x.device)
    s = torch.empty(x.shape[0], x.shape[1] // group_size, dtype=torch.float32, device=x.device)
    _group_quant_kernel[(x.numel() // group_size,)](x, q, s, eps, torch.finfo(dtype).max, GROUP=group_size)
    return q, s


def group_quant_kernel(fn):
    """An ulpgate kernel for quant.group cases with row-major fp32 scales, over fn(x, gs, dtype)."""

    def kernel(call):
        assert call.params["scale_layout"] == "row" and not call.params["ue8m0"], "row-major fp32 scales only"
        x = tensor(call.inputs["x"])
        q, s = fn(x, call.params["group_size"], FP8[call.params["format"]])
        torch.cuda.synchronize()
        write_bytes(call.outputs["codes"], q)
        write_bytes(call.outputs["scales"], s)

    return kernel


QUANT_KERNELS = {
    "torch-native-eager": group_quant_kernel(native_group_quant),
    "torch-native-compiled": group_quant_kernel(_compiled_group_quant),
}
if triton is not None:
    QUANT_KERNELS["triton-group-quant"] = group_quant_kernel(triton_group_quant)


# ---- RMSNorm --------------------------------------------------------------------------------

def hf_rms_norm(x, weight, eps):
    """Hugging Face's LlamaRMSNorm.forward."""
    input_dtype = x.dtype
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(input_dtype)


def torch_rms_norm(x, weight, eps):
    return F.rms_norm(x, (x.shape[-1],), weight, eps)


_compiled_hf = torch.compile(hf_rms_norm)
_compiled_torch = torch.compile(torch_rms_norm)


def rms_kernel(fn):
    def kernel(call):
        x, w = tensor(call.inputs["x"]), tensor(call.inputs["weight"])
        y = fn(x, w, call.params["eps"])
        torch.cuda.synchronize()
        write_bytes(call.outputs["y"], y.to(x.dtype))

    return kernel


NORM_KERNELS = {
    "F.rms_norm-eager": rms_kernel(torch_rms_norm),
    "F.rms_norm-compiled": rms_kernel(_compiled_torch),
    "hf-rmsnorm-eager": rms_kernel(hf_rms_norm),
    "hf-rmsnorm-compiled": rms_kernel(_compiled_hf),
}


# ---- FP8 GEMM: torch._scaled_mm (cuBLASLt underneath) -----------------------------------------

FP8_CODES = {"e4m3fn": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
OUT = {"bf16": torch.bfloat16, "fp32": torch.float32}


def scaled_mm_kernel(fast_accum):
    """torch._scaled_mm for gemm.tensor (one fp32 scale each), gemm.rowwise (fp32 [M] and [N]) and
    gemm.block (1x128 A blocks, 128x128 B blocks; the cublaslt profile stores A's scales M-major
    as (M, K/128) and B's as (N/128, K/128) row-major: spec/gemm.md)."""

    def kernel(call):
        assert call.op in ("gemm.tensor", "gemm.rowwise", "gemm.block"), "tensor, row and block scaling only"
        a = tensor(call.inputs["a"]).view(FP8_CODES[call.params["a_format"]])
        b = tensor(call.inputs["b"]).view(FP8_CODES[call.params["b_format"]])
        sa, sb = tensor(call.inputs["scale_a"]).view(torch.float32), tensor(call.inputs["scale_b"]).view(torch.float32)
        (m, k), n = a.shape, b.shape[0]
        if call.op == "gemm.rowwise":
            sa, sb = sa.reshape(m, 1), sb.reshape(1, n)
        elif call.op == "gemm.block":
            kb, nb = -(-k // 128), -(-n // 128)
            sa, sb = sa.reshape(kb, m).t(), sb.reshape(nb, kb).t()  # (M, K/128) and (K/128, N/128), as for a @ b.t()
        d = torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, out_dtype=OUT[call.params["out"]], use_fast_accum=fast_accum)
        torch.cuda.synchronize()
        write_bytes(call.outputs["d"], d)

    return kernel


# name -> (kernel, the accumulator model it claims: spec/gemm.md's sm90 models)
GEMM_KERNELS = {
    "_scaled_mm": (scaled_mm_kernel(False), "sm90"),
    "_scaled_mm-fast-accum": (scaled_mm_kernel(True), "sm90-fast-accum"),
}
