#!/usr/bin/env bash
# browser_check.sh OUT_DIR PAGE.html:ID1,ID2,... [PAGE2.html:IDS ...]
#
# Opens each HTML report in headless Chromium, offline, and checks what a reader would get:
#   (a) every listed id is an element id (id="...") of the rendered DOM (--dump-dom);
#   (b) no console message and no resource load: a report is one self-contained page without
#       script, so anything on the console (an error, a warning, an uncaught exception) or any
#       request besides the page itself (a missing image, a style sheet, anything over the
#       network) is a defect;
#   (c) a screenshot OUT_DIR/<page>.png, 1280 px wide and SCREENSHOT_HEIGHT (3000) px tall, so the
#       whole report is in the picture, scrollbars hidden.
# Prints one line per page (PASS or FAIL and why) and exits 0 only when every page passed, 1 when
# one failed, 2 on bad usage or when no headless Chromium is installed.
#
# What Chromium (156, Debian's chromium-headless-shell) prints with --enable-logging=stderr, and
# what is matched here:
#   console messages, at every level, as   [...:INFO:CONSOLE:LINE] "TEXT", source: URL (LINE)
#     (console.error, console.warn and console.log look the same; an uncaught exception is
#     "Uncaught Error: ..."), so any CONSOLE line fails the page;
#   a failed load prints nothing at --v=0; the request itself is logged by two verbose modules:
#     [...:VERBOSE1:content/browser/loader/file_url_loader_factory.cc:...] FileURLLoader::Start: file:///...
#     [...:VERBOSE1:net/base/network_delegate.cc:...] NetworkDelegate::NotifyBeforeURLRequest: http://...
#   so any request other than the page's own URL fails the page (whether or not it would load).
set -u

usage() {
  echo "usage: $0 OUT_DIR PAGE.html:ID1,ID2,... [PAGE2.html:IDS ...]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
out_dir=$1
shift
mkdir -p "$out_dir" || { echo "browser_check.sh: cannot create $out_dir" >&2; exit 2; }
height=${SCREENSHOT_HEIGHT:-3000}

# Debian's headless shell, else a full Chromium in headless mode.
if command -v chromium-headless-shell >/dev/null 2>&1; then
  browser=(chromium-headless-shell)
elif command -v chromium >/dev/null 2>&1; then
  browser=(chromium --headless)
else
  echo "browser_check.sh: no headless Chromium found: install chromium-headless-shell (or chromium)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/browser_check.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

# file:// URL of an absolute path, with every byte outside [A-Za-z0-9/._~-] percent-encoded as
# Chromium writes it in its log.
file_url() {
  local path=$1 url="file://" i c
  local LC_ALL=C
  for ((i = 0; i < ${#path}; i++)); do
    c=${path:i:1}
    case $c in
      [A-Za-z0-9/._~-]) url+=$c ;;
      *) url+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s\n' "$url"
}

# One Chromium run with its own profile, offline: host names resolve to nothing and a proxy that
# refuses every connection, so no request leaves the machine. Logs to $log.
run_browser() {
  local log=$1 profile
  shift
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 60 "${browser[@]}" --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --no-default-browser-check --disable-extensions --disable-background-networking --disable-sync \
    --mute-audio --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" \
    --proxy-server="127.0.0.1:9" --enable-logging=stderr --v=0 \
    --vmodule=file_url_loader_factory=1,network_delegate=1 "$@" 2>"$log"
}

# The problems of one page, one per line, on stdout; nothing when it passed.
check_page() {
  local page=$1 ids=$2 name=$3 url dom="$work/$3.dom" log1="$work/$3.dom.log" log2="$work/$3.shot.log"
  local png="$out_dir/$3.png" rc id
  url=$(file_url "$(realpath "$page")")

  run_browser "$log1" --dump-dom "$url" >"$dom"
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after 60 s rendering the DOM"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "chromium --dump-dom exited $rc: $(grep -v dbus "$log1" | tail -n 1)"
  IFS=',' read -r -a id_list <<<"$ids"
  for id in "${id_list[@]}"; do
    [ -z "$id" ] && continue
    grep -qF "id=\"$id\"" "$dom" || echo "no element with id=\"$id\" in the rendered DOM"
  done

  rm -f "$png"
  run_browser "$log2" --screenshot="$png" --window-size=1280,"$height" "$url" >/dev/null
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after 60 s taking the screenshot"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "chromium --screenshot exited $rc: $(grep -v dbus "$log2" | tail -n 1)"
  [ -s "$png" ] || echo "no screenshot written to $png"

  # Both runs load the page: report each message and request once.
  cat "$log1" "$log2" | grep -F ':CONSOLE' | sed -E 's/^\[[^]]*\] ?/console: /' | sort -u
  cat "$log1" "$log2" | grep -E 'FileURLLoader::Start: |NotifyBeforeURLRequest: ' |
    sed -E 's/.*(FileURLLoader::Start|NotifyBeforeURLRequest): //' | grep -vxF "$url" | sort -u |
    sed 's/^/loads /'
}

failed=0
for spec in "$@"; do
  case $spec in *:*) ;; *) usage ;; esac
  page=${spec%:*}
  ids=${spec##*:}
  name=$(basename "$page" .html)
  if [ ! -f "$page" ]; then
    echo "FAIL $page: no such file"
    failed=1
    continue
  fi
  problems=$(check_page "$page" "$ids" "$name")
  if [ -z "$problems" ]; then
    echo "PASS $page: ids ${ids//,/ } present, no console message, no load; screenshot $out_dir/$name.png"
  else
    echo "FAIL $page: $(printf '%s' "$problems" | paste -sd ';' - | sed 's/;/; /g')"
    failed=1
  fi
done
exit $failed
