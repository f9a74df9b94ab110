"""torch.compile of the ops `ulpgate bench` times, on the same shapes, for the peer column of the
bench table: run in the same device call as `ulpgate bench` (ci/gpu-run.sh step `compile`), the two
are comparable. Each op is written the way serving stacks write the eager fallback (vLLM's
per-tensor quant: amax, s = amax / max, q = clamp(x * (1 / s)) cast), compiled with the default
mode; CUDA events time each run after a warm-up, and the inputs rotate over buffers covering 4x L2
as the bench's do. Prints one CSV row per op: id, median_us, min_us, gbps (bytes moved as the
bench counts them: a dynamic per-tensor scale reads x twice).

allreduce.rms on one GPU: the ranks' x are one [world, M, H] tensor; the compiled function is what
each rank runs unfused (the all-reduce's fp32 sum rounded once, the residual add, RMSNorm, the
per-token quantization), called once per rank, as the suite's kernel writes every rank's outputs;
gbps uses the bytes the suite's bench counts for the same id."""
import sys

import torch

DEVICE = "cuda"
M, K = 32768, 7168
FP8 = torch.float8_e4m3fn
MAX = torch.finfo(FP8).max


def per_tensor_dynamic(x):
    s = x.abs().amax().float() / MAX
    q = (x.float() * (1.0 / s)).clamp(-MAX, MAX).to(FP8)
    return q, s


def per_tensor_static(x, s):
    return (x.float() * (1.0 / s)).clamp(-MAX, MAX).to(FP8)


def group_quant(x, gs=128):
    g = x.reshape(-1, gs)  # bf16 or (silu-mul) fp32 values
    s = g.abs().amax(dim=-1, keepdim=True).float().clamp(min=1e-10) / MAX
    q = (g.float() / s).clamp(-MAX, MAX).to(FP8)
    return q.reshape(x.shape), s.reshape(x.shape[0], -1)


def silu_mul_group_quant(x, gs=128):
    gate, up = x.chunk(2, dim=-1)
    return group_quant((torch.nn.functional.silu(gate.float()) * up.float()), gs)


def allreduce_rms_token_quant(xs, residual, w, eps=1e-6):
    z = xs.float().sum(0).to(xs.dtype) + residual  # written back as the residual
    zf = z.float()
    y = (zf * torch.rsqrt(zf.pow(2).mean(-1, keepdim=True) + eps) * w).to(xs.dtype)
    s = (y.abs().amax(dim=-1, keepdim=True).float() / MAX).clamp(min=1.0 / (512 * MAX))
    return (y.float() / s).clamp(-MAX, MAX).to(FP8), s, z


def allreduce_rms(xs, residual, w, eps=1e-6):
    z = xs.float().sum(0).to(xs.dtype) + residual
    zf = z.float()
    return (zf * torch.rsqrt(zf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(xs.dtype), z


def fused_ops(world=2, m=16384, h=7168):
    """The bench's rows at the prefill size: every rank's call of the unfused ops, bytes as the bench
    counts them for each id (one-shot: every rank's x read by every rank; two-shot: the own rows
    from every rank, the sums to every rank and back from tmp)."""
    t = m * h * 2
    xs = torch.randn(world, m, h, device=DEVICE, dtype=torch.bfloat16)
    residual = torch.randn(m, h, device=DEVICE, dtype=torch.bfloat16)
    w16, w32 = torch.rand(h, device=DEVICE).add(0.5).bfloat16(), torch.rand(h, device=DEVICE).add(0.5)
    per_rank = lambda f, w: lambda _: [f(xs, residual, w) for _ in range(world)]
    rms = per_rank(torch.compile(allreduce_rms), w16)
    two_shot = world * (2 * t + t + 2 * t)  # sums, tmp, residual in and out
    one_shot = world * (world * t + 2 * t)  # every rank's x, residual in and out
    return [
        (f"allreduce.rms/flashinfer-2shot/w{world}/bf16/{m}x{h}/w.bf16/normal/s1",
         rms, two_shot + world * (h * 2 + t), [None]),
        (f"allreduce.rms/flashinfer-1shot/w{world}/bf16/{m}x{h}/w.bf16/normal/s1",
         rms, one_shot + world * (h * 2 + t), [None]),
        (f"allreduce.rms-quant/flashinfer-2shot/w{world}/bf16/{m}x{h}/w.fp32/e4m3fn/token/normal/s1",
         per_rank(torch.compile(allreduce_rms_token_quant), w32), two_shot + world * (h * 4 + m * h + m * 4), [None]),
        (f"allreduce.rms-quant/flashinfer-1shot/w{world}/bf16/{m}x{h}/w.fp32/e4m3fn/token/normal/s1",
         per_rank(torch.compile(allreduce_rms_token_quant), w32), one_shot + world * (h * 4 + m * h + m * 4), [None]),
    ]


def time_us(fn, inputs, reps=50):
    for i in range(5):
        fn(inputs[i % len(inputs)])
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(inputs[i % len(inputs)])
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    times.sort()
    return times[len(times) // 2], times[0]


def report(ops):
    for name, fn, moved, data in ops:
        med, lo = time_us(fn, data)
        print(f"{name},torch.compile,{med:.1f},{lo:.1f},{moved / med / 1e3:.0f}")


def main():
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    x_bytes = M * K * 2
    sets = max(1, min(64, -(-4 * l2 // x_bytes)))
    inputs = [torch.randn(M, K, device=DEVICE, dtype=torch.bfloat16) for _ in range(sets)]
    scale = torch.tensor(0.0123, device=DEVICE)
    ops = [
        ("quant.tensor/vllm/e4m3fn/bf16/32768x7168/dynamic/row/normal/s1", torch.compile(per_tensor_dynamic), 2 * x_bytes + M * K + 4, inputs),
        ("quant.tensor/vllm/e4m3fn/bf16/32768x7168/static=0.0123/row/normal/s1",
         (lambda f: lambda x: f(x, scale))(torch.compile(per_tensor_static)), x_bytes + M * K, inputs),
        ("quant.group/vllm/e4m3fn/bf16/32768x7168/gs128/row/normal/s1", torch.compile(group_quant), x_bytes + M * K + M * K // 128 * 4, inputs),
    ]
    wide = [torch.randn(M, 2 * K, device=DEVICE, dtype=torch.bfloat16)]
    del inputs[1:]  # room for the [M, 2K] input
    ops.append(("quant.silu-mul/vllm/e4m3fn/bf16/32768x7168/gs128/col-tma/normal/s1", torch.compile(silu_mul_group_quant),
                2 * x_bytes + M * K + M * K // 128 * 4, wide))
    print("id,impl,median_us,min_us,gbps")
    report(ops)
    del ops, wide, inputs
    torch.cuda.empty_cache()
    report(fused_ops())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
