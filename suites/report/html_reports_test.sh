#!/usr/bin/env bash
# The HTML reports in a real browser (issue 17): writes the pages a person reads — the emulated
# sign-off of gfx942, R1's fault report (a fused RMSNorm+quant op writing fp32 scales into a packed
# ue8m0 buffer), R15's GEMM tile/K-block fault and the H200 bench table — then renders each in
# Debian's headless Chromium (browser_check.sh): every section there, no console message, no
# request outside the page, and a screenshot of each in OUT_DIR.
# usage: html_reports_test.sh ULPGATE TEST_NORM_HARNESS TEST_GEMM_KERNELS SOURCE_DIR OUT_DIR
set -euo pipefail
ulpgate=$1 norm_tests=$2 gemm_tests=$3 src=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"

cd "$src"
# Signed off against the committed prediction: exit 0 is part of the test.
"$ulpgate" signoff --arch gfx942 --out "$out/signoff-gfx942" > "$out/signoff-gfx942.log"
tail -n 3 "$out/signoff-gfx942.log"
ULPGATE_REPORT_DIR=$out "$norm_tests" --gtest_filter='NormCompare.R1HtmlReportTellsTheStory' > "$out/r1.log"
ULPGATE_REPORT_DIR=$out "$gemm_tests" --gtest_filter='GemmFaults.R15HtmlReportDrawsTheMaps' > "$out/r15.log"
"$ulpgate" bench --from golden/sm90/bench.csv --html "$out/bench.html" > "$out/bench.log"

bash "$here/browser_check.sh" "$out/screenshots" \
  "$out/signoff-gfx942/report.html:summary,histograms" \
  "$out/r1.html:summary,histograms,deviations" \
  "$out/r15.html:summary,histograms,deviations" \
  "$out/bench.html:summary,bench"
