"""Judges SGLang's, torchao's and FlashInfer's kernels (kernels.py) on every matching catalog case of
every profile, on the GPU (arch sm90), and writes what each follows and how each deviates:
REPORT.md, results.csv (every case's verdict, digest and story) and the suite's HTML report per kernel.

    bash ci/gpu-run.sh thirdparty          # on the H200, after THIRDPARTY=1 bash ci/gpu-build.sh
"""
import csv
import sys
from collections import defaultdict
from pathlib import Path

import torch
import triton

import ulpgate
from kernels import KERNELS

ARCH = "sm90"


def profile_of(case):
    return case.split("/")[1]


def slug(name):
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")


def judge_all(out):
    rows = []
    for name, (library, kernel, filters) in KERNELS.items():
        session = ulpgate.Session("", ARCH, slug(name))  # one per kernel: its own backend name and report
        cases = [c for f in filters.split("|") for c in (ulpgate.cases(f, ARCH) if "*" in f else [f])]
        for case in cases:
            r = session.judge(case, kernel)
            rows.append({"kernel": name, "library": library, "profile": profile_of(case), "case": case,
                         "verdict": r.verdict, "passed": r.passed, "max_ulp": r.max_ulp, "digest": f"{r.digest:016x}",
                         "story": r.story})
            print(f"{r.verdict:14} {name:42} {case}", flush=True)
        session.report_html(out / f"{slug(name)}.html")
    return rows


def short(story):
    """The diagnosis of a failure line (after the case and backend), or the story itself."""
    return story.split(" ulp: ", 1)[-1].split(" -> ulpgate repro")[0].replace("|", "\\|").strip()


def summary(rows):
    by_kernel = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_kernel[r["kernel"]][r["profile"]].append(r)
    md = []
    for name, profiles in by_kernel.items():
        follows = [p for p, rs in profiles.items() if all(r["passed"] for r in rs)]
        md += [f"## {name} ({next(iter(profiles.values()))[0]['library']})", "",
               "Follows: " + (", ".join(f"**{p}**" for p in follows) if follows else "no profile on every case") + ".", "",
               "| profile | passed | deviations (the suite's diagnosis, with how many cases) |", "|---|---|---|"]
        for p, rs in sorted(profiles.items()):
            stories = defaultdict(int)
            for r in rs:
                if not r["passed"]:
                    stories[f"{r['verdict']}: {short(r['story'])}"] += 1
            dev = "; ".join(f"{s} ({n})" for s, n in sorted(stories.items(), key=lambda kv: -kv[1])) or "none"
            md.append(f"| {p} | {sum(r['passed'] for r in rs)}/{len(rs)} | {dev} |")
        md.append("")
    return md


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report")
    out.mkdir(parents=True, exist_ok=True)
    rows = judge_all(out)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    head = ["# Other people's kernels on the H200, judged by ulpgate", "",
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}, Triton {triton.__version__}; arch {ARCH}; "
            "every kernel judged on every catalog case of its op and layout, under every profile "
            "(`examples/thirdparty/gate.py`). A kernel *follows* a profile when every case passes "
            "(exact or within the derived budget).", ""]
    (out / "REPORT.md").write_text("\n".join(head + summary(rows)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
