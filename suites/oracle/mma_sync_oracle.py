#!/usr/bin/env python3
"""What Hopper's mma.sync does with FP8, measured (spec/gemm.md, R22): runs mma_sync_probe (one
warp per 16x8xK problem chaining mma.sync.m16n8k32 e4m3 over K, and the same inputs converted to
f16 through mma.sync.m16n8k16) and says, for each, which model rows' instruction chains
(ulpgate_model_chain) reproduce every output bit for bit.

First an exactness check of the probe itself (small integers: every sum exact, so the outputs must
be the exact products: a wrong fragment layout fails here), then wide-exponent data (e4m3
subnormals to 448, signed, c random), where the rows differ.

  mma_sync_oracle.py PROBE WORKDIR [--problems N] [--k K]     (ULPGATE_LIBRARY names libulpgate.so)
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import ulpgate  # noqa: E402

ROWS = ["sm90-mma-fp8", "sm90-mma-f16", "sm80-mma-f16", "sm89", "sm90", "sm100", "fp32-fma"]


def e4m3_values():
    c = np.arange(256)
    exp, man = (c >> 3) & 15, (c & 7).astype(np.float64)
    mag = np.where(exp == 0, man / 8 * 2.0**-6, (1 + man / 8) * 2.0 ** (exp - 7.0))
    v = np.where(c & 0x80, -mag, mag)
    v[(c & 0x7F) == 0x7F] = np.nan
    return v


def run_probe(probe, work, a, b, c):
    problems, _, k = a.shape
    os.makedirs(work, exist_ok=True)
    a.astype(np.uint8).tofile(f"{work}/a.u8")
    b.astype(np.uint8).tofile(f"{work}/b.u8")
    c.astype(np.float32).tofile(f"{work}/c.f32")
    subprocess.run([probe, work, str(problems), str(k)], check=True)
    read = lambda n: np.fromfile(f"{work}/{n}", dtype=np.float32).reshape(problems, 16, 8)
    return read("d_fp8.f32"), read("d_f16.f32")


def chains(row, a, b, c):
    """The row's instruction chained over K for every output (i, j) of every problem."""
    problems, _, k = a.shape
    rows = np.repeat(a[:, :, None, :], 8, axis=2).reshape(-1, k)  # [P, 16, 8, K]
    cols = np.repeat(b[:, None, :, :], 16, axis=1).reshape(-1, k)
    return ulpgate.model_chain(row, "e4m3fn", "e4m3fn", rows, cols, c.reshape(-1)).reshape(problems, 16, 8)


def same(x, y):
    return (x.view(np.uint32) == y.view(np.uint32)) | (np.isnan(x) & np.isnan(y))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("probe")
    p.add_argument("work")
    p.add_argument("--problems", type=int, default=2048)
    p.add_argument("--k", type=int, default=256)
    args = p.parse_args()
    rng = np.random.default_rng(22)
    values = e4m3_values()
    finite = np.flatnonzero(np.isfinite(values)).astype(np.uint8)

    # 1. Exactness: codes of small integers (|v| <= 4), c integral: every sum exact.
    small = np.flatnonzero(np.isfinite(values) & (np.abs(values) <= 4) & (values == np.round(values))).astype(np.uint8)
    n, k = 64, args.k
    a = rng.choice(small, (n, 16, k))
    b = rng.choice(small, (n, 8, k))
    c = rng.integers(-100, 100, (n, 16, 8)).astype(np.float32)
    d8, d16 = run_probe(args.probe, args.work, a, b, c)
    exact = np.einsum("pik,pjk->pij", values[a], values[b]) + c
    probes = []
    for name, d in (("fp8 m16n8k32", 0), ("f16 m16n8k16", 1)):
        ok = (d8, d16)[d].astype(np.float64) == exact
        print(f"exactness {name}: {int(ok.sum())} of {ok.size} outputs equal the exact product")
        if ok.all():
            probes.append((name, d))
        else:
            print(f"  {name}: the probe's fragment layout is wrong: no conclusion for it")

    # 2. Wide exponents: codes over every finite value, half of them among the smallest (subnormals
    # and the first binades), signed; c random over 30 binades or zero.
    tiny = finite[(np.abs(values[finite]) < 2.0**-4)]
    pick = lambda shape: np.where(rng.random(shape) < 0.5, rng.choice(tiny, shape), rng.choice(finite, shape))
    a, b = pick((args.problems, 16, k)), pick((args.problems, 8, k))
    c = (rng.choice([-1, 1], (args.problems, 16, 8)) * np.exp2(rng.integers(-20, 10, (args.problems, 16, 8)))
         * (1 + rng.integers(0, 1 << 23, (args.problems, 16, 8)) / 2**23)).astype(np.float32)
    c[rng.random(c.shape) < 0.2] = 0
    d8, d16 = run_probe(args.probe, args.work, a, b, c)
    print(f"wide exponents: {args.problems} problems of 16x8x{k} ({d8.size} outputs), chained over K from c")
    verdict = {}
    for row in ROWS:
        model = chains(row, a, b, c)
        for name, d in ((name, (d8, d16)[i]) for name, i in probes):
            ok = same(model, d)
            verdict.setdefault(name, []).append((row, int(ok.sum())))
            print(f"  {name:13} vs {row:14}: {int(ok.sum())} of {ok.size} outputs bit for bit")
    for name, rows in verdict.items():
        full = [r for r, n in rows if n == d8.size]
        print(f"{name}: follows {', '.join(full) if full else 'no row'}")
    return 0 if len(probes) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
