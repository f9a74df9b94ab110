"""torch's RMSNorm kernels revealed (`ulpgate.reveal`, harness/norm/reveal.hpp): the tree each
sums a row's squares in (F.rms_norm and Hugging Face's LlamaRMSNorm, eager and torch.compile'd),
and its longest path against the r budget's. Writes REVEAL.md into the directory given.

    ULPGATE_LIBRARY=.gpu/libulpgate.so PYTHONPATH=python:examples/torch python3 examples/torch/reveal_torch.py OUT_DIR
"""
import sys
import time
from pathlib import Path

import torch

import ulpgate
from torch_kernels import NORM_KERNELS

SHAPES = ["4x256", "4x4096", "4x7168"]


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = [f"# torch's RMSNorm sum of squares, revealed on {torch.cuda.get_device_name()} (torch {torch.__version__})", ""]
    failed = 0
    for name, kernel in NORM_KERNELS.items():
        for shape in SHAPES:
            case = f"norm.rms/hf/bf16/{shape}/normal/s1"
            t0 = time.time()
            r = ulpgate.reveal(case, kernel, arch="sm90")
            took = time.time() - t0
            print(f"{name} {case}: {r.verdict} ({took:.1f} s)\n{r.story}", flush=True)
            report += [f"## {name}, {case} ({took:.1f} s)", "", "```", r.story.rstrip(), "```", ""]
            failed += r.verdict != "exact" and "no tree" not in r.story
    (out / "REVEAL.md").write_text("\n".join(report) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
