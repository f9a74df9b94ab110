"""Gates PyTorch's and Triton's kernels on this GPU with the ulpgate Python package and writes the
report (REPORT.md, results.csv, casts.csv) into the directory given (default: report/).

    ULPGATE_LIBRARY=.gpu/libulpgate.so PYTHONPATH=python python3 examples/torch/report.py OUT_DIR

Every finding is the suite's own verdict and story; nothing is adjusted."""
import csv
import datetime
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

import ulpgate
from torch_kernels import GEMM_KERNELS, NORM_KERNELS, QUANT_KERNELS, triton

QUANT_PROFILES = ["vllm", "vllm-triton", "sglang", "aiter", "deepgemm"]
NORM_PROFILES = ["hf", "vllm", "aiter"]
ARCH = "sm90"  # the GPU the kernels run on: results carry the backend name plugin:python@sm90

# PyTorch's casts and the reference conversion its documented policy names (spec/formats.md:
# round to nearest even, overflow not saturated; ue8m0 rounds to the nearest power of two).
CASTS = {
    "float8_e4m3fn": "e4m3fn:nosat",
    "float8_e4m3fnuz": "e4m3fnuz:nosat",
    "float8_e5m2": "e5m2:nosat",
    "float8_e8m0fnu": "ue8m0:nosat:rn",
}
NAN = {  # the NaN class of a code, per format (outputs are compared by NaN class)
    "float8_e4m3fn": lambda c: (c & 0x7F) == 0x7F,
    "float8_e4m3fnuz": lambda c: c == 0x80,
    "float8_e5m2": lambda c: (c & 0x7F) > 0x7C,
    "float8_e8m0fnu": lambda c: c == 0xFF,
}


def provenance():
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip().splitlines()
    return {
        "device": smi[0] if smi else torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__ if triton else "absent",
        "cuda (torch)": torch.version.cuda,
        "ulpgate commit": os.environ.get("ULPGATE_COMMIT", "unknown"),
        "date": datetime.date.today().isoformat(),
    }


def cast_inputs():
    """Every bf16 value, and 2^24 random fp32 bit patterns (every exponent, NaN and Inf included)."""
    bf16 = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    gen = torch.Generator().manual_seed(2024)
    fp32 = torch.randint(-(2**31), 2**31, (2**24,), dtype=torch.int64, generator=gen).to(torch.int32).view(torch.float32)
    return {"every bf16": bf16, "2^24 random fp32": fp32}


def check_casts(out):
    rows = []
    for source, x in cast_inputs().items():
        ref_in = x.float().numpy()
        for dtype, conversion in CASTS.items():
            ref = ulpgate.encode(conversion, ref_in)
            for device in ("cpu", "cuda"):
                try:
                    got = x.to(device).to(getattr(torch, dtype)).view(torch.uint8).cpu().numpy()
                except (RuntimeError, TypeError) as e:  # a cast this PyTorch does not have
                    rows.append({"input": source, "cast": f"{dtype} ({device})", "reference": conversion,
                                 "values": len(ref), "differ": "not run", "examples": str(e).splitlines()[0]})
                    continue
                nan = NAN[dtype]
                same = (got == ref) | (nan(got) & nan(ref))
                bad = np.flatnonzero(~same)
                bits = ref_in.view(np.uint32)
                examples = "; ".join(f"{float(ref_in[i]):.6g} (0x{bits[i]:08X}): torch 0x{got[i]:02X}, ulpgate 0x{ref[i]:02X}"
                                     for i in bad[:3])
                rows.append({"input": source, "cast": f"{dtype} ({device})", "reference": conversion,
                             "values": len(ref), "differ": len(bad), "examples": examples})
    with open(out / "casts.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def judge_all(kernels, family, profiles, pattern, models=None):
    results = []
    for name, kernel in kernels.items():
        for profile in profiles:
            for case in ulpgate.cases(pattern.format(family=family, profile=profile)):
                r = ulpgate.judge(case, kernel, arch=ARCH, model=(models or {}).get(name))
                results.append({"kernel": name, "profile": profile, "case_id": r.case_id, "verdict": r.verdict,
                                "max_ulp": r.max_ulp, "digest": f"{r.digest:016x}", "story": r.story})
    return results


def matrix(results):
    """kernel x profile: passed/cases (exact), and which profiles each kernel matches on every case."""
    cells = defaultdict(Counter)
    for r in results:
        c = cells[(r["kernel"], r["profile"])]
        c["cases"] += 1
        c["pass"] += r["verdict"] in ("exact", "within-budget")
        c["exact"] += r["verdict"] == "exact"
    kernels = list(dict.fromkeys(r["kernel"] for r in results))
    profiles = list(dict.fromkeys(r["profile"] for r in results))
    lines = ["| kernel | " + " | ".join(profiles) + " | matches |", "|---" * (len(profiles) + 2) + "|"]
    for k in kernels:
        row = [f"{cells[(k, p)]['pass']}/{cells[(k, p)]['cases']} ({cells[(k, p)]['exact']} exact)" for p in profiles]
        match = [p for p in profiles if cells[(k, p)]["pass"] == cells[(k, p)]["cases"]]
        lines.append(f"| {k} | " + " | ".join(row) + f" | {', '.join(match) or 'none'} |")
    return "\n".join(lines)


def failures(results, kernel, profile, limit=4):
    """The suite's stories for a kernel's failures under the profile it is closest to."""
    bad = [r for r in results if r["kernel"] == kernel and r["profile"] == profile and r["verdict"] not in ("exact", "within-budget")]
    return [r["story"].split("\n")[0] + ("\n    " + r["story"].split("\n")[1].strip() if "\n" in r["story"] else "") for r in bad[:limit]]


# The profile each kernel was written to follow (the question: does it, bit for bit?).
INTENDED = {"torch-native-eager": "vllm", "torch-native-compiled": "vllm", "triton-group-quant": "vllm-triton",
            "F.rms_norm-eager": "hf", "F.rms_norm-compiled": "hf", "hf-rmsnorm-eager": "hf", "hf-rmsnorm-compiled": "hf",
            "_scaled_mm": "cublaslt", "_scaled_mm-fast-accum": "cublaslt-fast-accum"}


def departures(results, kernels):
    """Per kernel: the suite's stories against the profile it was written for, and against the
    profile it comes closest to when that is another."""
    md = []
    for k in kernels:
        for label, p in (("written for", INTENDED[k]), ("closest to", closest(results, k))):
            if label == "closest to" and p == INTENDED[k]:
                continue
            stories = failures(results, k, p)
            md += [f"### {k}, {label} {p}", ""]
            md += [f"    {s}" for s in stories] if stories else ["every case passes", ""]
            md += [""] if stories else []
    return md


def closest(results, kernel):
    score = Counter()
    for r in results:
        if r["kernel"] == kernel:
            score[r["profile"]] += r["verdict"] in ("exact", "within-budget")
    return score.most_common(1)[0][0]


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report")
    out.mkdir(parents=True, exist_ok=True)
    prov = provenance()
    casts = check_casts(out)
    quant = judge_all(QUANT_KERNELS, "quant.group", QUANT_PROFILES, "{family}/{profile}/e4m3fn/*/row/*")
    norm = judge_all(NORM_KERNELS, "norm.rms", NORM_PROFILES, "{family}/{profile}/*")
    gemm = judge_all({k: v[0] for k, v in GEMM_KERNELS.items()}, "gemm.[trb]*", ["cublaslt", "cublaslt-fast-accum"],
                     "{family}/{profile}/*", {k: v[1] for k, v in GEMM_KERNELS.items()})
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["kernel", "profile", "case_id", "verdict", "max_ulp", "digest"], extrasaction="ignore")
        w.writeheader()
        w.writerows(quant + norm + gemm)
    md = ["# PyTorch and Triton kernels gated by ulpgate", "", "Provenance: " + "; ".join(f"{k} {v}" for k, v in prov.items()), "",
          "Produced by `examples/torch/report.py` with the `ulpgate` Python package and nothing else; every",
          "verdict and story below is the suite's own (results.csv has every case, casts.csv every cast).", "",
          "## PyTorch's fp8 casts against the reference conversions", "",
          "| input | cast | reference | values | differ | first differences (input: torch, ulpgate) |", "|---|---|---|---|---|---|"]
    md += [f"| {r['input']} | {r['cast']} | `{r['reference']}` | {r['values']} | {r['differ']} | {r['examples']} |" for r in casts]
    md += ["", "## Per-token-group FP8 quantization (quant.group, e4m3fn, row-major fp32 scales)", "",
           "Each kernel against the 16 cases of every quant.group profile (cell: passed/cases): a kernel",
           "matches a profile when every case passes.", "", matrix(quant), ""]
    md += departures(quant, QUANT_KERNELS)
    md += ["## RMSNorm (norm.rms)", "", matrix(norm), ""]
    md += departures(norm, NORM_KERNELS)
    md += ["## torch._scaled_mm (gemm.tensor, gemm.rowwise, gemm.block; claiming sm90 / sm90-fast-accum)", "",
           "Each use_fast_accum setting against the cuBLASLt profiles' tensor-wise, row-wise and block-scaled cases, claiming",
           "the sm90 accumulator model of its mode (bit-exact tier).", "", matrix(gemm), ""]
    md += departures(gemm, {k: v[0] for k, v in GEMM_KERNELS.items()})
    (out / "REPORT.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
