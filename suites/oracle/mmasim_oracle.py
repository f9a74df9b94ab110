#!/usr/bin/env python3
"""The accumulator models' instructions against MMA-Sim, bit for bit (CTest label `oracle`).

MMA-Sim (Xie et al., Microsoft Research, arXiv 2511.10909; `pip install mmasim`) models GPU
matrix instructions bit-accurately and was validated on the hardware. Each row of ORACLES pairs a
row of reference/gemm/model.cpp with the instruction MMA-Sim models for it; both run the same dot
products (random codes over every finite value, then edge inputs: fp8 subnormals, exact
cancellation, mixed signs, zeros, the largest magnitudes, powers of two and their neighbours,
long K with the accumulator carried, tiny and huge power-of-two scales for block-scaled
instructions) and every output must have the same bits. A difference that is understood and
kept is listed in KNOWN with its cause; any other fails the test.

Needs PyTorch, numpy and mmasim; without them it says what is missing and exits 77 (CTest skips).
Usage: mmasim_oracle.py [--count N] [--only ROW]   (ULPGATE_LIBRARY names libulpgate.so)
"""
import argparse
import os
import sys
import types

SKIP = 77


def imports():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"oracle: SKIPPED: {e.name} is not installed (pip install torch numpy mmasim)")
        sys.exit(SKIP)
    # mmasim's fp32/fp64 FMA model compiles a C++ extension when imported; no row here uses it, so
    # a stand-in module keeps the oracle free of a compiler and ninja.
    stub = types.ModuleType("mmasim.arithmetic.fma")
    stub.MMA_FMA = object
    sys.modules.setdefault("mmasim.arithmetic.fma", stub)
    try:
        import mmasim.amd  # noqa: F401
        import mmasim.nv_ptx  # noqa: F401
    except ImportError as e:
        print(f"oracle: SKIPPED: mmasim is not importable ({e}); pip install mmasim")
        sys.exit(SKIP)


imports()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmasim import amd, nv_ptx  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import ulpgate  # noqa: E402

TORCH = {"e4m3fn": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e4m3fnuz": torch.float8_e4m3fnuz,
         "e5m2fnuz": torch.float8_e5m2fnuz}
PTX = {"e4m3fn": "e4m3", "e5m2": "e5m2"}
AMD = {"e4m3fnuz": "fp8", "e5m2fnuz": "bf8"}
OCP_PAIRS = [("e4m3fn", "e4m3fn"), ("e4m3fn", "e5m2"), ("e5m2", "e4m3fn"), ("e5m2", "e5m2")]
FNUZ_PAIRS = [("e4m3fnuz", "e4m3fnuz"), ("e4m3fnuz", "e5m2fnuz"), ("e5m2fnuz", "e4m3fnuz"), ("e5m2fnuz", "e5m2fnuz")]


class Instruction:
    """One MMA-Sim instruction as a chain over K: dpa(a, b, c[, scale exponents])."""

    def __init__(self, name, make, step, convert=None, block_scaled=False):
        self.name, self.make, self.step, self.convert, self.block_scaled = name, make, step, convert, block_scaled

    def run(self, a_fmt, b_fmt, a, b, c, scale_exp):
        op = self.make(a_fmt, b_fmt)
        ta = torch.from_numpy(a).view(TORCH[a_fmt])
        tb = torch.from_numpy(b).view(TORCH[b_fmt])
        if self.convert is not None:  # the unit is fed fp8 values converted (exactly) to fp16 / bf16
            ta, tb = ta.to(self.convert), tb.to(self.convert)
        tc = torch.from_numpy(c)
        if not self.block_scaled:
            return op.dpa(ta, tb, tc).numpy()
        for s in range(a.shape[1] // self.step):  # one ue8m0 pair per step: chained here, step by step
            alpha = torch.from_numpy(np.ascontiguousarray(scale_exp[:, s : s + 1] // 2 + 127, dtype=np.uint8))
            beta = torch.from_numpy(np.ascontiguousarray(scale_exp[:, s : s + 1] - scale_exp[:, s : s + 1] // 2 + 127, dtype=np.uint8))
            k = slice(s * self.step, (s + 1) * self.step)
            tc = op.dpa(ta[:, k], tb[:, k], tc, alpha.view(torch.float8_e8m0fnu), beta.view(torch.float8_e8m0fnu))
        return tc.numpy()


def wgmma(a, b):
    return nv_ptx.WGMMA("Hopper", f"m64n8k32.f32.{PTX[a]}.{PTX[b]}")


def mma_fp8(arch):
    return lambda a, b: nv_ptx.MMA(arch, f"m16n8k32.f32.{PTX[a]}.{PTX[b]}.f32")


def mma_half(arch, t):
    return lambda a, b: nv_ptx.MMA(arch, f"m16n8k16.f32.{t}.{t}.f32")


def tcgen05(a, b):
    return nv_ptx.TCGen05MMA("Blackwell", f"m128n8k32.kind::f8f6f4.f32.{PTX[a]}.{PTX[b]}")


def tcgen05_mx(a, b):
    return nv_ptx.TCGen05MMABlockScale("Blackwell", f"m128n8k32.kind::mxf8f6f4.block32.f32.{PTX[a]}.{PTX[b]}.ue8m0")


def mfma(shape):
    return lambda a, b: amd.MFMA("CDNA3", f"f32_{shape}_{AMD[a]}_{AMD[b]}")


# model row -> the MMA-Sim instructions that must agree with it, and the format pairs they take.
ORACLES = {
    "sm90": [(Instruction("Hopper wgmma m64n8k32 FP8", wgmma, 32), OCP_PAIRS)],
    "sm90-fast-accum": [(Instruction("Hopper wgmma m64n8k32 FP8", wgmma, 32), OCP_PAIRS)],
    "sm90-mma-f16": [(Instruction("Hopper mma.sync m16n8k16 f16 (fp8 converted)", mma_half("Hopper", "f16"), 16,
                                  torch.float16), OCP_PAIRS)],
    "sm80-mma-f16": [(Instruction("Ampere mma.sync m16n8k16 f16 (fp8 converted)", mma_half("Ampere", "f16"), 8,
                                  torch.float16), OCP_PAIRS),
                     (Instruction("Ada mma.sync m16n8k16 f16 (fp8 converted)", mma_half("Ada Lovelace", "f16"), 8,
                                  torch.float16), OCP_PAIRS[:1])],
    "sm80-mma-bf16": [(Instruction("Ampere mma.sync m16n8k16 bf16 (fp8 converted)", mma_half("Ampere", "bf16"), 8,
                                   torch.bfloat16), OCP_PAIRS)],
    "sm89": [(Instruction("Ada mma.sync m16n8k32 FP8", mma_fp8("Ada Lovelace"), 16), OCP_PAIRS)],
    "sm100": [(Instruction("Blackwell tcgen05.mma kind::f8f6f4", tcgen05, 32), OCP_PAIRS),
              (Instruction("Blackwell tcgen05.mma kind::mxf8f6f4 block32", tcgen05_mx, 32, block_scaled=True), OCP_PAIRS)],
    "gfx942": [(Instruction("CDNA3 v_mfma_f32_32x32x16 FP8/BF8", mfma("32x32x16"), 16), FNUZ_PAIRS),
               (Instruction("CDNA3 v_mfma_f32_16x16x32 FP8/BF8", mfma("16x16x32"), 16), FNUZ_PAIRS[:1])],
}
# Rows with no MMA-Sim instruction, and why.
UNCHECKED = {
    "fp32-fma": "not a matrix instruction: IEEE fmaf, held to std::fma by test_gemm_reference",
    "gfx950": "MMA-Sim has no CDNA4 model: the row stays a hypothesis",
}


def overflow_to_max(got, want):
    """A step whose exact sum lies beyond fp32's range: the model rounds toward zero to the largest
    finite value, as IEEE RZ does; MMA-Sim converts its double to fp32 with RNE and gets Inf."""
    return np.isinf(want) & (np.abs(got) == np.finfo(np.float32).max) & (np.sign(got) == np.sign(want))


# Differences kept on purpose: (rows, predicate on (model, MMA-Sim) outputs, cause). Reachable
# only with block scales past 2^100; no hardware measurement decides it (spec/gemm.md lists fp32
# overflow as an untested edge), so the row keeps IEEE's RZ.
KNOWN = [({"sm100"}, overflow_to_max, "fp32 overflow of a step under RZ: the model gives the largest finite value "
          "(IEEE RZ), MMA-Sim Inf (its double-to-fp32 conversion rounds to nearest); unmeasured on hardware")]


def finite_codes(fmt):
    values = torch.arange(256, dtype=torch.uint8).view(TORCH[fmt]).float()
    return np.flatnonzero(torch.isfinite(values).numpy()).astype(np.uint8)


def code_of(fmt, values):
    return torch.tensor(values, dtype=torch.float32).to(TORCH[fmt]).view(torch.uint8).numpy()


def random_c(rng, n, lo=-40, hi=24):
    """fp32 accumulators: signed, exponents in [lo, hi), 24 random significant bits, some zeros."""
    mant = 1 + rng.integers(0, 1 << 23, n) / float(1 << 23)
    c = (rng.choice([-1.0, 1.0], n) * mant * np.exp2(rng.integers(lo, hi, n))).astype(np.float32)
    c[rng.random(n) < 0.1] = 0
    return c


def edge_sets(rng, a_fmt, b_fmt, step, block_scaled):
    """(name, a, b, c, scale_exp) over chains of `step`-product steps."""
    fa, fb = finite_codes(a_fmt), finite_codes(b_fmt)
    n = 4096
    sets = []

    def add(name, a, b, c, k, e=None):
        steps = k // step
        if e is None:
            e = np.zeros((a.shape[0], steps), np.int32) if block_scaled else None
        sets.append((name, a.astype(np.uint8), b.astype(np.uint8), c.astype(np.float32), e))

    k = step
    sub_a = np.array([x for x in fa if 0 < (x & 0x7F) < 8 or x == 0x80], np.uint8)  # subnormals and zeros
    sub_b = np.array([x for x in fb if 0 < (x & 0x7F) < 8 or x == 0x80], np.uint8)
    add("fp8 subnormals", rng.choice(sub_a, (n, k)), rng.choice(sub_b, (n, k)), random_c(rng, n, -30, -10) * (rng.random(n) < 0.5), k)
    mix = lambda f, sub: np.where(rng.random((n, k)) < 0.5, rng.choice(sub, (n, k)), rng.choice(f, (n, k)))
    add("subnormals mixed with normals", mix(fa, sub_a), mix(fb, sub_b), random_c(rng, n), k)
    a = rng.choice(fa, (n, k))
    b = rng.choice(fb, (n, k))
    neg = (a ^ 0x80) if not a_fmt.endswith("fnuz") else np.where(a == 0, 0, a ^ 0x80)
    half = k // 2
    canc = a.copy()
    canc[:, half:] = neg[:, :half] if k % 2 == 0 else canc[:, half:]
    bb = b.copy()
    bb[:, half:] = b[:, :half]
    add("exact cancellation", canc, bb, np.zeros(n), k)
    add("cancellation against c", canc, bb, random_c(rng, n, -10, 10), k)
    zeros_a = np.where(rng.random((n, k)) < 0.7, code_of(a_fmt, [0.0])[0], a)
    add("mostly zeros", zeros_a, b, random_c(rng, n) * (rng.random(n) < 0.5), k)
    add("all zeros", np.zeros((n, k)) + code_of(a_fmt, [0.0])[0], b, random_c(rng, n), k)
    big_a, big_b = fa[np.argsort(np.abs(torch.from_numpy(fa).view(TORCH[a_fmt]).float().numpy()))][-8:], \
        fb[np.argsort(np.abs(torch.from_numpy(fb).view(TORCH[b_fmt]).float().numpy()))][-8:]
    add("largest magnitudes", rng.choice(big_a, (n, k)), rng.choice(big_b, (n, k)), random_c(rng, n, 10, 40), k)
    pow2 = [s * 2.0 ** e * m for s in (1, -1) for e in range(-10, 9) for m in (1.0, 1.5, 1.75, 1.875)]
    pa, pb = np.unique(code_of(a_fmt, pow2)), np.unique(code_of(b_fmt, pow2))
    pa, pb = pa[np.isin(pa, fa)], pb[np.isin(pb, fb)]
    c = (rng.choice([-1, 1], n) * np.exp2(rng.integers(-20, 20, n)) * rng.choice([1.0, 1 - 2.0**-24, 1 + 2.0**-23], n))
    add("powers of two and neighbours", rng.choice(pa, (n, k)), rng.choice(pb, (n, k)), c, k)
    long_k = 64 * step
    m = 512
    add("long K (64 steps, c carried)", rng.choice(fa, (m, long_k)), rng.choice(fb, (m, long_k)), random_c(rng, m), long_k)
    if block_scaled:
        e = rng.integers(-127, 128, (n, 1)).astype(np.int32) + rng.integers(-127, 128, (n, 1)).astype(np.int32)
        e = np.clip(e, -254, 254)
        add("ue8m0 scales over the whole range (tiny and huge)", a, b, random_c(rng, n), k, e)
        add("ue8m0 scales near 2^-127 (subnormal results)", a, b, np.zeros(n), k,
            rng.integers(-254, -230, (n, 1)).astype(np.int32))
        ek = rng.integers(-20, 20, (m, long_k // step)).astype(np.int32)
        add("long K with a scale per step", rng.choice(fa, (m, long_k)), rng.choice(fb, (m, long_k)), random_c(rng, m), long_k, ek)
    return sets


def bits_equal(x, y):
    xb, yb = x.view(np.uint32), y.view(np.uint32)
    return (xb == yb) | (np.isnan(x) & np.isnan(y))


def check(row, inst, a_fmt, b_fmt, count, rng):
    """Returns (compared, [(set, differing, example)])."""
    fa, fb = finite_codes(a_fmt), finite_codes(b_fmt)
    k = inst.step
    sets = [("random", rng.choice(fa, (count, k)), rng.choice(fb, (count, k)), random_c(rng, count),
             rng.integers(-60, 60, (count, 1)).astype(np.int32) if inst.block_scaled else None)]
    sets += edge_sets(rng, a_fmt, b_fmt, k, inst.block_scaled)
    compared, bad = 0, []
    for name, a, b, c, e in sets:
        want = inst.run(a_fmt, b_fmt, a, b, c, e)
        got = ulpgate.model_chain(row, a_fmt, b_fmt, a, b, c, e)
        ok = bits_equal(got, want)
        compared += ok.size
        for rows, predicate, cause in KNOWN:
            if row in rows:
                known = ~ok & predicate(got, want)
                if known.any():
                    bad.append((name, int(known.sum()), ok.size, None, cause))
                ok |= known
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            example = (f"a={a[i].tolist()} b={b[i].tolist()} c={c[i]!r}" + (f" scale_exp={e[i].tolist()}" if e is not None else "")
                       + f": model {got[i]!r} ({got[i:i+1].view(np.uint32)[0]:08x}), MMA-Sim {want[i]!r} "
                       f"({want[i:i+1].view(np.uint32)[0]:08x})")
            bad.append((name, int((~ok).sum()), ok.size, example, None))
    return compared, bad


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=100_000, help="random dot products per instruction and format pair")
    p.add_argument("--only", action="append", help="model rows to check (default: every row with an oracle)")
    args = p.parse_args()
    import mmasim
    version = getattr(mmasim, "__version__", None)
    if version is None:
        from importlib.metadata import version as v
        version = v("mmasim")
    rows = [m for m in ORACLES if not args.only or m in args.only]
    failed = 0
    print(f"oracle: MMA-Sim {version}, torch {torch.__version__}; {args.count} random dot products per instruction "
          "and format pair, plus the edge sets")
    for row in rows:
        for inst, pairs in ORACLES[row]:
            for a_fmt, b_fmt in pairs:
                rng = np.random.default_rng(abs(hash((row, inst.name, a_fmt, b_fmt))) % 2**32)
                compared, bad = check(row, inst, a_fmt, b_fmt, args.count, rng)
                unexplained = [x for x in bad if x[4] is None]
                status = "ok" if not unexplained else "DIFFERS"
                print(f"{status:8} {row:16} {inst.name} {a_fmt} x {b_fmt}: {compared} outputs compared")
                for name, n_bad, n, example, why in bad:
                    print(f"           {name}: {n_bad} of {n} differ" + (f" (known: {why})" if why else f"; first: {example}"))
                failed += bool(unexplained)
    for row, why in UNCHECKED.items():
        print(f"{'skipped':8} {row:16} {why}")
    print(f"{len(rows)} rows: {'all agree' if not failed else f'{failed} instruction(s) differ'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
