#!/usr/bin/env bash
# Mutation testing of the suite itself: each mutant of ci/mutants/mutants.txt plants one real bug
# class in a kernel (one exact textual replacement in one file under kernels/), and `ulpgate run
# --backend host` must fail with a diagnosis that names the class (a regex over its FAIL lines).
# Equivalent mutants must pass. The kernels are mutated in a scratch copy of the source tree,
# never in the repository; the copy's CPU-only build is kept between runs.
#
#   bash ci/mutants.sh [--only ID]... [--work DIR] [--mutants FILE]
#
# Exit 0 when every non-equivalent mutant is caught with its diagnosis and every equivalent one
# passes; 1 otherwise; 2 on bad usage or a mutant list that no longer matches the code.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
list=$repo/ci/mutants/mutants.txt
work=$repo/build-mutants
jobs=${MUTANTS_JOBS:-2}
only=()

usage() { echo "usage: bash ci/mutants.sh [--only ID]... [--work DIR] [--mutants FILE]" >&2; exit 2; }
while (($#)); do
  case $1 in
    --only) only+=("${2:?--only needs a mutant id}"); shift 2 ;;
    --work) work=${2:?--work needs a directory}; shift 2 ;;
    --mutants) list=${2:?--mutants needs a file}; shift 2 ;;
    *) usage ;;
  esac
done
[[ -f $list ]] || { echo "mutants.sh: no mutant list $list" >&2; exit 2; }

# ---- the mutant list: [id] then key = value lines; \n in from/to is a newline --------------
ids=() ; declare -A field
keys=(class file from to filter expect why)
parse_list() {
  local line id="" n=0 key value
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ $line =~ ^\[([A-Za-z0-9._-]+)\]$ ]]; then
      id=${BASH_REMATCH[1]}
      [[ -v "field[$id.file]" ]] && { echo "$list:$n: mutant $id listed twice" >&2; exit 2; }
      ids+=("$id")
      field[$id.file]=""
    elif [[ $line =~ ^([a-z]+)[[:space:]]*=[[:space:]]*(.*)$ && -n $id ]]; then
      key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
      [[ " ${keys[*]} " == *" $key "* ]] || { echo "$list:$n: unknown key '$key'" >&2; exit 2; }
      field[$id.$key]=$value
    else
      echo "$list:$n: expected [id] or 'key = value', got: $line" >&2; exit 2
    fi
  done <"$list"
  for id in "${ids[@]}"; do
    for key in class file from to filter expect; do
      [[ -n ${field[$id.$key]:-} || $key == to ]] || { echo "$list: mutant $id has no '$key'" >&2; exit 2; }
    done
    [[ ${field[$id.file]} == kernels/* ]] || { echo "$list: mutant $id mutates ${field[$id.file]}, not a file under kernels/" >&2; exit 2; }
    [[ ${field[$id.expect]} != equivalent || -n ${field[$id.why]:-} ]] ||
      { echo "$list: equivalent mutant $id must say why" >&2; exit 2; }
  done
}
parse_list
if ((${#only[@]})); then
  for id in "${only[@]}"; do [[ -v "field[$id.file]" ]] || { echo "mutants.sh: no mutant '$id' in $list" >&2; exit 2; }; done
  ids=("${only[@]}")
fi

# ---- the scratch tree and its build ------------------------------------------------------------
src=$work/src build=$work/build logs=$work/logs
echo "== copying the source tree to $src"
rm -rf "$src" "$logs"
mkdir -p "$src" "$logs"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$src"
else
  tar -C "$repo" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
# A previous run may have left a mutant's objects newer than the copied sources: every file a
# mutant touches is made newer than them, so the first build is the pristine kernels.
for id in "${ids[@]}"; do touch "$src/${field[$id.file]}" 2>/dev/null || true; done

if [[ ! -f $build/build.ninja ]]; then
  echo "== configuring a CPU-only build in $build"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DULPGATE_CPU_ONLY=ON -DULPGATE_HIP_CHECKS=OFF \
    >"$logs/configure.log" 2>&1 || { cat "$logs/configure.log"; exit 1; }
fi
build_ulpgate() { cmake --build "$build" --target ulpgate -j "$jobs" >"$1" 2>&1; }
ulpgate=$build/harness/ulpgate

# ---- one mutant ----------------------------------------------------------------------------------
unescape() { local v=$1; printf '%s' "${v//\\n/$'\n'}"; }

# Occurrences of the literal text $2 in the string $1.
occurrences() {
  local text=$1 needle=$2 rest
  rest=${text//"$needle"/}
  echo $(((${#text} - ${#rest}) / ${#needle}))
}

declare -A result detail
restore_file="" saved_text=""
restore() { if [[ -n $restore_file ]]; then printf '%s' "$saved_text" >"$restore_file"; restore_file=""; fi; }
trap restore EXIT INT TERM

run_mutant() {
  local id=$1 file=$src/${field[$1.file]} from to text count rc log=$logs/$1.log
  from=$(unescape "${field[$id.from]}")
  to=$(unescape "${field[$id.to]:-}")
  [[ -f $file ]] || { result[$id]=invalid; detail[$id]="no file ${field[$id.file]}"; return; }
  IFS= read -r -d '' text <"$file" || true
  count=$(occurrences "$text" "$from")
  if ((count != 1)); then
    result[$id]=invalid
    detail[$id]="the original text occurs $count times in ${field[$id.file]} (must be exactly once)"
    return
  fi
  restore_file=$file saved_text=$text
  printf '%s' "${text/"$from"/"$to"}" >"$file"
  if ! build_ulpgate "$logs/$id.build.log"; then
    restore
    result[$id]=no-build detail[$id]="does not compile: $logs/$id.build.log"
    return
  fi
  rc=0
  "$ulpgate" run --backend host --filter "${field[$id.filter]}" >"$log" 2>&1 || rc=$?
  restore
  local fails matching
  fails=$(grep -c '^FAIL ' "$log" || true)
  matching=$(grep '^FAIL ' "$log" | grep -Ec -- "${field[$id.expect]}" || true)
  if [[ ${field[$id.expect]} == equivalent ]]; then
    ((rc == 0)) && result[$id]=equivalent-ok || result[$id]=equivalent-flagged
    detail[$id]="exit $rc, $fails failures"
  elif ((rc == 0)); then
    result[$id]=survived detail[$id]="exit 0: no case of '${field[$id.filter]}' tells"
  elif ((rc != 1)); then
    result[$id]=error detail[$id]="exit $rc (want 1): $log"
  elif ((matching > 0)); then
    result[$id]=caught detail[$id]="$matching of $fails failures name it"
  else
    result[$id]=diagnosis-missing detail[$id]="$fails failures, none matches /${field[$id.expect]}/: $log"
  fi
}

# ---- the run -------------------------------------------------------------------------------------
echo "== building the pristine kernels (log: $logs/baseline.build.log)"
build_ulpgate "$logs/baseline.build.log" || { cat "$logs/baseline.build.log"; exit 1; }
declare -A filters
for id in "${ids[@]}"; do filters[${field[$id.filter]}]=1; done
for f in "${!filters[@]}"; do
  "$ulpgate" run --backend host --filter "$f" >"$logs/baseline.log" 2>&1 ||
    { echo "mutants.sh: the unmutated kernels fail '$f' (see $logs/baseline.log); fix that first" >&2; exit 1; }
done

start=$SECONDS
for id in "${ids[@]}"; do
  t0=$SECONDS
  run_mutant "$id"
  printf '%-28s %-19s %4ds  %s\n' "$id" "${result[$id]}" $((SECONDS - t0)) "${detail[$id]}"
done
# Leave the build pristine for the next run's incremental builds.
build_ulpgate "$logs/final.build.log" || true

echo
printf '%-28s %-19s %-34s %s\n' mutant result file class
caught=0 killable=0 bad=0
for id in "${ids[@]}"; do
  printf '%-28s %-19s %-34s %s\n' "$id" "${result[$id]}" "${field[$id.file]}" "${field[$id.class]}"
  case ${result[$id]} in
    equivalent-ok) ;;
    equivalent-flagged) bad=$((bad + 1)) ;;
    caught) caught=$((caught + 1)) killable=$((killable + 1)) ;;
    *) killable=$((killable + 1)) bad=$((bad + 1)) ;;
  esac
done
echo
echo "score: $caught / $killable non-equivalent mutants caught with their diagnosis ($((SECONDS - start)) s)"
if ((bad)); then
  echo "mutants.sh: $bad mutant(s) not as expected (logs in $logs)" >&2
  grep -q invalid <<<"${result[*]}" && exit 2
  exit 1
fi
