#!/usr/bin/env bash
# The fuzz job: builds the libFuzzer targets of suites/fuzz into ${FUZZ_BUILD_DIR:-build-fuzz}
# (clang-19, ASan + UBSan), runs each over its seed corpus once (CTest), then fuzzes each for
# SECONDS (default 60), as many at once as there are cores, on a scratch copy of its corpus, so
# the repository's corpus is never written. Fails on any crash, sanitizer report, leak, timeout or
# out-of-memory, and prints the reproducer's path and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=(fuzz_case_id fuzz_golden fuzz_budgets fuzz_bundle)

# MPI off: the parsers need none, and its imported target is not visible to suites/fuzz. No ccache:
# nothing else compiles with these flags. -O0 -g1 (line tables for the reports' stacks): the
# build was 620 CPU seconds at -O1 on CI's two cores; a harness file compiles in a third less time
# at -O0 than at -O1 (and -O1 in a quarter less than -O2 -g). The parsers run slower per input,
# which a 30-second smoke run can afford; the seeds run as before.
flags="-O0 -g1 -DNDEBUG"
CCACHE=0 CXX=clang++-19 CC=clang-19 BUILD_DIR=$build BUILD_TYPE=RelWithDebInfo bash ci/build.sh -DULPGATE_FUZZ=ON -DULPGATE_WITH_MPI=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags"
ctest --test-dir "$build" --output-on-failure

# ASan's quarantine keeps freed memory from reuse to catch use-after-free; the CSV reader allocates
# 3 MiB per parse, and with the default 256 MiB quarantine every parse page-faults fresh memory
# (10x slower). 16 MiB still holds the last few parses' memory.
export ASAN_OPTIONS=quarantine_size_mb=16 UBSAN_OPTIONS=print_stacktrace=1
work=$build/fuzz-run
rm -rf "$work"

fuzz() {
  local t=$1 dir=$work/$1
  mkdir -p "$dir/corpus" "$dir/findings"
  cp suites/fuzz/corpus/"$t"/* "$dir/corpus/"
  "$build/suites/fuzz/$t" "$dir/corpus" -dict="suites/fuzz/$t.dict" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$dir/findings/" >"$dir/log" 2>&1
}

for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do sleep 1; done
  (fuzz "$t" && echo 0 >"$work/$t.rc" || echo $? >"$work/$t.rc") &
done
wait

failed=0
for t in "${targets[@]}"; do
  if [[ $(cat "$work/$t.rc") == 0 ]]; then
    echo "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t/log" | tail -1)"
    continue
  fi
  failed=1
  echo "FAILED: $t (log: $work/$t/log)"
  grep -E 'fuzz finding|ERROR|SUMMARY|runtime error' "$work/$t/log" | head -20 || tail -20 "$work/$t/log"
  for f in "$work/$t/findings"/*; do
    [[ -e $f ]] && echo "reproducer: $f   (replay: $build/suites/fuzz/$t $f)"
  done
done
exit $failed
