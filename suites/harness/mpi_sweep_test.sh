#!/usr/bin/env bash
# `mpirun -np 2 ulpgate run` shards the sweep: each process runs its share, rank 0 reports every
# result once, in catalog order, the same rows (all but the wall time) as one process gives, and
# the exit status of a failure. Usage: mpi_sweep_test.sh ULPGATE
set -euo pipefail
ulpgate=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi=(mpirun --oversubscribe -np 2)
fail() { echo "FAIL: $*"; exit 1; }

# The custom all-reduce cases on 2 and 4 ranks (each a world launch of its own), two host archs.
filter='allreduce/custom-*/w[24]/*'
"$ulpgate" run --backend host --filter "$filter" --csv "$work/one.csv" >"$work/one.log"
"${mpi[@]}" "$ulpgate" run --backend host --filter "$filter" --csv "$work/two.csv" >"$work/two.log" ||
  fail "mpirun exit $?: $(tail -5 "$work/two.log")"
rows() { cut -d, -f1-13 "$1"; }  # case_id .. digest: everything but wall_s, message, note
[[ $(wc -l <"$work/one.csv") -gt 20 ]] || fail "too few cases selected: $(wc -l <"$work/one.csv")"
diff <(rows "$work/one.csv") <(rows "$work/two.csv") >"$work/diff" || fail "rank 0's rows differ from one process's: $(head "$work/diff")"
grep -q '^mpi: 2 processes ran [1-9][0-9]* + [1-9][0-9]* cases' "$work/two.log" || fail "not shared: $(grep mpi "$work/two.log")"
[[ $(grep -c '^total' "$work/two.log") -eq 1 ]] || fail "the summary must be printed once (rank 0)"

# Rank 0's status is the launch's: a selection the backend declines entirely is bad usage.
if "${mpi[@]}" "$ulpgate" run --backend host --filter 'allreduce/nccl/*' >"$work/nccl.log" 2>&1; then
  fail "a selection the host backend declines entirely must fail under mpirun too"
fi
echo "ok: $(grep '^mpi:' "$work/two.log")"
