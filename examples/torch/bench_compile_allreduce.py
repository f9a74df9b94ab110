"""The peer of `ulpgate bench --allreduce`'s fused table on several GPUs: what a serving stack runs
when it does not fuse, NCCL's all-reduce through torch.distributed (one process per GPU, NVLink
multicast off) followed by the torch.compile'd residual add + RMSNorm (+ per-token FP8) of
bench_compile.py, at the fused table's token counts of 7168 (bf16 weights). Run it in the same
device call as the bench, so the two are comparable:

    python3 -m torch.distributed.run --nproc-per-node 2 examples/torch/bench_compile_allreduce.py

The all-reduce averages (ReduceOp.AVG: the sum's traffic, values that stay finite over repeated
in-place calls). Each rank times every call alone with CUDA events after a warm-up (no CUDA graphs:
where the GPU work is short, the time is the host's launching); rank 0 prints one CSV row per op and
token count with the slowest rank's median (the suite's bench reports a mean over back-to-back calls
of all ranks)."""
import os
import sys

import torch
import torch.distributed as dist

from bench_compile import allreduce_rms, allreduce_rms_token_quant

H = 7168
TOKENS = [1, 16, 128, 1024, 4096, 16384]
OPS = {  # the bench's impl prefix -> the compiled function of one rank's all-reduced x
    "rms": lambda x, residual, w: allreduce_rms(x[None], residual, w),
    "rms-quant": lambda x, residual, w: allreduce_rms_token_quant(x[None], residual, w),
}


def median_us(step, reps):
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        step()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def main():
    if os.environ.get("NCCL_NVLS_ENABLE") != "0":
        sys.exit("bench_compile_allreduce.py: set NCCL_NVLS_ENABLE=0 (NVLink multicast stays off)")
    local = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local)
    dist.init_process_group("nccl", device_id=torch.device("cuda", local))
    rank, world = dist.get_rank(), dist.get_world_size()
    w = torch.rand(H, device="cuda").add(0.5).bfloat16()
    if rank == 0:
        print(f"# torch.compile (PyTorch {torch.__version__}) after NCCL's all-reduce (torch.distributed), "
              f"{torch.cuda.get_device_name()} x {world}; time_us: the slowest rank's median")
        print("impl,world,size,tokens,time_us")
    for name, fn in OPS.items():
        compiled = torch.compile(fn, dynamic=True)
        for m in TOKENS:
            x = torch.randn(m, H, device="cuda", dtype=torch.bfloat16)
            residual = torch.randn(m, H, device="cuda", dtype=torch.bfloat16)

            def step():
                dist.all_reduce(x, op=dist.ReduceOp.AVG)
                return compiled(x, residual, w)

            t = torch.tensor([median_us(step, reps=max(10, min(200, (1 << 30) // (m * H * 2))))], device="cuda")
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            if rank == 0:
                print(f"{name}:nccl+torch.compile,{world},{m * H * 2},{m},{t.item():.2f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
