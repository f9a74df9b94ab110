#!/usr/bin/env bash
# `mpirun -np 2 ulpgate run`: an all-reduce case of world 2, plain or fused with RMSNorm, runs one
# rank per process (the ranks meet in MPI shared memory), every other case runs whole in one process, shared out (job j on
# rank j mod 2); rank 0 reports every result once, in catalog order, with the same rows (all but
# the wall time, message and note) as one process gives, with --isolate too, and its exit status
# is the launch's.
# Usage: mpi_sweep_test.sh ULPGATE
set -euo pipefail
ulpgate=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi=(mpirun --oversubscribe -np 2)
fail() { echo "FAIL: $*"; exit 1; }

# Worlds 2 (one rank per process), 4, 6 and 8 (shared out); two host archs; NCCL's cases declined.
filter='allreduce*'
"$ulpgate" run --backend host --filter "$filter" --csv "$work/one.csv" >"$work/one.log"
"${mpi[@]}" "$ulpgate" run --backend host --filter "$filter" --csv "$work/two.csv" >"$work/two.log" ||
  fail "mpirun exit $?: $(tail -5 "$work/two.log")"
rows() { cut -d, -f1-13 "$1"; }  # case_id .. digest
[[ $(wc -l <"$work/one.csv") -gt 100 ]] || fail "too few cases selected: $(wc -l <"$work/one.csv")"
diff <(rows "$work/one.csv") <(rows "$work/two.csv") >"$work/diff" || fail "rank 0's rows differ from one process's: $(head "$work/diff")"
grep -q '^mpi: 2 processes returned [1-9][0-9]* + [1-9][0-9]* results' "$work/two.log" || fail "not shared: $(grep mpi "$work/two.log")"
per_process=$(grep -c 'one rank per process (2 MPI processes)' "$work/two.csv" || true)
((per_process >= 40)) || fail "only $per_process world-2 cases ran one rank per process"
fused=$(grep -c '^allreduce\.rms.*one rank per process (2 MPI processes)' "$work/two.csv" || true)
((fused >= 40)) || fail "only $fused fused world-2 cases ran one rank per process"
[[ $(grep -c '^total' "$work/two.log") -eq 1 ]] || fail "the summary must be printed once (rank 0)"

# World 4 on 4 processes: ranks 2 and 3 too address their own buffers and their peers'.
four='allreduce*/*/w4/*'
"$ulpgate" run --backend host --filter "$four" --csv "$work/four-one.csv" >"$work/four-one.log"
mpirun --oversubscribe -np 4 "$ulpgate" run --backend host --filter "$four" --csv "$work/four.csv" >"$work/four.log" ||
  fail "mpirun -np 4 exit $?: $(tail -5 "$work/four.log")"
diff <(rows "$work/four-one.csv") <(rows "$work/four.csv") >"$work/diff" || fail "world 4: rank 0's rows differ: $(head "$work/diff")"
fused_four=$(grep -c '^allreduce\.rms.*one rank per process (4 MPI processes)' "$work/four.csv" || true)
((fused_four >= 12)) || fail "only $fused_four fused world-4 cases ran one rank per process"

# --isolate: the cases a process runs whole run in its child processes, the world-2 cases (ranks
# that talk over MPI) in the processes themselves; the rows are the same.
"${mpi[@]}" "$ulpgate" run --backend host --filter "$filter" --isolate --csv "$work/isolated.csv" >"$work/isolated.log" ||
  fail "mpirun --isolate exit $?: $(tail -5 "$work/isolated.log")"
diff <(rows "$work/one.csv") <(rows "$work/isolated.csv") >"$work/diff" || fail "--isolate: rows differ: $(head "$work/diff")"
isolated_per_process=$(grep -c 'one rank per process (2 MPI processes)' "$work/isolated.csv" || true)
((isolated_per_process == per_process)) || fail "--isolate: $isolated_per_process world-2 cases one rank per process, not $per_process"

# Rank 0's status is the launch's: a selection the backend declines entirely is bad usage.
if "${mpi[@]}" "$ulpgate" run --backend host --filter 'allreduce/nccl/*' >"$work/nccl.log" 2>&1; then
  fail "a selection the host backend declines entirely must fail under mpirun too"
fi
echo "ok: $(grep '^mpi:' "$work/two.log"); $per_process cases one rank per process ($fused fused); world 4: $fused_four fused"
