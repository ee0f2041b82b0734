#!/usr/bin/env bash
# depot benchmark: one command that builds depot in release mode and times, on the same disk
# and in the same run, depot's import, anonymize and export (folder and zip) against a plain
# `cp -r` and `cp -r + sync` of the same files, in two cases:
#
#   small  1,000 files of ~0.53 MB replicated from one real scanner file (`depot synth --like`),
#          input in the page cache; every step runs --reps times, each depot step right after a
#          `cp -r`, and medians are compared (this is where CPU cost shows);
#   large  ~10,000 synthetic files of ~0.54 MB (5.4 GB, every hard case of `depot synth`),
#          each step once, `cp -r` and `cp -r + sync` three times (here the disk decides).
#
# Wall time (nanosecond clock), CPU time (user + system) and peak RSS (GNU time) per step;
# ratios to `cp -r` and `cp -r + sync`. See docs/performance.md for the method and results.
#
# Usage: bench/run.sh [--case small|large|both] [--reps N] [--like FILE] [--files N]
#                     [--work DIR] [--no-build] [--depot FILE] [--compare FILE] [--keep]
#   --case       which case (default both: small, then large)
#   --reps N     repetitions of the small case (default 3; medians are reported)
#   --like FILE  the real DICOM file the small case replicates (default: $DEPOT_BENCH_LIKE, else
#                pydicom-data's JPEG2000_UNC.dcm where the project keeps it); without one the
#                small case uses synthetic 512x512 images
#   --files N    approximate number of files of the large case (default 10000)
#   --work DIR   scratch folder on the disk to measure (default target/bench-work); emptied
#                first, removed at the end unless --keep
#   --no-build   use target/release/depot as it is
#   --depot FILE measure this depot binary instead (e.g. an older build; implies --no-build)
#   --compare FILE  small case: also run every depot step with this other binary, right after
#                the same step of the first, in the same rounds (its rows are marked [B])
#   --keep       keep the scratch folder
#
# Needs: cargo, GNU time at /usr/bin/time (Debian: `apt-get install time`), and free space:
# about 5 GB for the small case, three times the dump (16 GB) for the large one.
set -euo pipefail

CASE=both
REPS=3
LIKE="${DEPOT_BENCH_LIKE:-}"
FILES=10000
WORK=""
BUILD=1
KEEP=0
DEPOT=""
COMPARE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --case) CASE="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --like) LIKE="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --depot) DEPOT="$2"; BUILD=0; shift 2 ;;
    --compare) COMPARE="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$CASE" in small|large|both) ;; *) echo "bench/run.sh: --case is small, large or both" >&2; exit 2 ;; esac
for n in "$REPS" "$FILES"; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || (( n < 1 )); then
    echo "bench/run.sh: --reps and --files need a positive number" >&2; exit 2
  fi
done

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-$REPO/target/bench-work}"
TIME=/usr/bin/time
if [[ ! -x "$TIME" ]] || ! "$TIME" -v true >/dev/null 2>&1; then
  echo "bench/run.sh: GNU time is needed at /usr/bin/time; on Debian/Ubuntu: apt-get install time" >&2
  exit 2
fi
if [[ -z "$LIKE" ]]; then
  for candidate in /work/real/in/data_store/data/JPEG2000_UNC.dcm; do
    [[ -f "$candidate" ]] && LIKE="$candidate" && break
  done
fi
if [[ -n "$LIKE" && ! -f "$LIKE" ]]; then
  echo "bench/run.sh: --like $LIKE is not a file" >&2; exit 2
fi

if (( BUILD )); then
  echo "== building depot (release)"
  (cd "$REPO" && cargo build --release -p depot --quiet)
fi
DEPOT="${DEPOT:-$REPO/target/release/depot}"
if [[ ! -x "$DEPOT" ]]; then
  echo "bench/run.sh: no depot binary at $DEPOT" >&2; exit 2
fi
DEPOT="$(cd "$(dirname "$DEPOT")" && pwd)/$(basename "$DEPOT")"
if [[ -n "$COMPARE" ]]; then
  if [[ ! -x "$COMPARE" ]]; then
    echo "bench/run.sh: no depot binary at $COMPARE" >&2; exit 2
  fi
  COMPARE="$(cd "$(dirname "$COMPARE")" && pwd)/$(basename "$COMPARE")"
fi
# With RUST_BACKTRACE set, dicom-rs captures a backtrace for every error it builds, including
# the end-of-data "error" each audit parse ends with (4 % of an export's CPU): measure what a
# user's shell gets by default.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

rm -rf "$WORK"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# Refuse to start without room (a full disk fails every step and every other user of the disk):
# the small case keeps one round's outputs (about 9 copies of 0.53 GB, 13 with --compare), the
# large case a dump, an archive and one output.
need_gb=0
if [[ "$CASE" != large ]]; then
  if [[ -n "$COMPARE" ]]; then need_gb=8; else need_gb=6; fi
fi
if [[ "$CASE" != small ]]; then
  large_gb=$(( FILES * 6 / 10000 * 3 + 1 ))
  (( large_gb > need_gb )) && need_gb=$large_gb
fi
free_gb=$(df -Pk "$WORK" | awk 'NR==2 { printf "%d", $4 / 1048576 }')
if (( free_gb < need_gb + 2 )); then
  echo "bench/run.sh: $free_gb GB free on the disk of $WORK; this run needs about $need_gb GB, plus a margin of 2" >&2
  rm -rf "$WORK"
  exit 2
fi
export DEPOT_KEY_DIR="$WORK/keys"

echo "== machine"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus: $(nproc) ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
echo "disk: $(df -h "$WORK" | awk 'NR==2 {print $1 ", " $2 " total, " $4 " free"}'), filesystem $(stat -f -c %T "$WORK")"
echo "depot: $("$DEPOT" --version) ($DEPOT)"
[[ -z "$COMPARE" ]] || echo "[B]: $("$COMPARE" --version) ($COMPARE)"
echo

# run_once NAME CMD...: runs CMD under /usr/bin/time after a sync. Sets LAST_CODE, LAST_STDERR,
# LAST_SECS (wall, nanosecond clock), LAST_CPU (user + system seconds) and LAST_RSS (MB).
run_once() {
  local name="${1// /_}"; shift
  local stats="$WORK/.time-$name" errlog="$WORK/.stderr-$name"
  sync
  local t0 t1
  t0=$(date +%s%N)
  set +e
  "$TIME" -f '%U %S %M' -o "$stats" "$@" >/dev/null 2>"$errlog"
  LAST_CODE=$?
  set -e
  t1=$(date +%s%N)
  LAST_STDERR="$errlog"
  LAST_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r LAST_CPU LAST_RSS < <(tail -n 1 "$stats" | awk '{ printf "%.2f %.0f\n", $1 + $2, $3 / 1024 }')
}

# Samples of the current case, one line per run: step|status|seconds|cpu|rss
SAMPLES=()

# sample NAME: classifies the last run and appends a sample line.
sample() {
  local name="$1" status="ok"
  if (( LAST_CODE == 1 )); then
    status="ok (exit 1: some files rejected)"
  elif (( LAST_CODE != 0 )); then
    status="failed (exit $LAST_CODE)"
    echo "   $name failed; last lines of its stderr:" >&2
    tail -n 5 "$LAST_STDERR" | sed 's/^/     /' >&2
  fi
  SAMPLES+=("$name|$status|$LAST_SECS|$LAST_CPU|$LAST_RSS")
  printf '   %-16s %8s s wall %7s s cpu %6s MB  %s\n' "$name" "$LAST_SECS" "$LAST_CPU" "$LAST_RSS" "$status"
}

step() {
  local name="$1"; shift
  run_once "$name" "$@"
  sample "$name"
}

# table CASE_TITLE NFILES NBYTES: medians per step and ratios to the cp -r medians.
table() {
  local title="$1" files="$2" bytes="$3"
  echo
  echo "== results: $title"
  printf '%s\n' "${SAMPLES[@]}" | awk -F'|' -v files="$files" -v bytes="$bytes" '
    function median(list,   n, a, i, j, t) {
      n = split(list, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
      if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 }
      if ($2 !~ /^ok/) { failed[$1] = $2; next }
      if ($2 != "ok") note[$1] = $2
      secs[$1] = secs[$1] " " $3; cpu[$1] = cpu[$1] " " $4; runs[$1]++
      if ($5 + 0 > rss[$1] + 0) rss[$1] = $5
      if (!($1 in lo) || $3 + 0 < lo[$1] + 0) lo[$1] = $3
      if (!($1 in hi) || $3 + 0 > hi[$1] + 0) hi[$1] = $3
    }
    END {
      cp = ("cp -r" in runs) ? median(secs["cp -r"]) : 0
      cps = ("cp -r + sync" in runs) ? median(secs["cp -r + sync"]) : 0
      printf "%-15s %4s %8s %15s %7s %8s %8s %10s %7s  %s\n", "step", "runs", "median s", "min-max s", "cpu s", "files/s", "vs cp -r", "vs cp+sync", "RSS MB", "status"
      md = "| step | runs | median s | min–max s | cpu s | files/s | vs cp -r | vs cp -r + sync | peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= k; i++) {
        s = order[i]
        if (!(s in runs)) {
          printf "%-15s %s\n", s, failed[s]
          md = md "\n| " s " | " failed[s] " | | | | | | | |"
          continue
        }
        m = median(secs[s]); c = median(cpu[s])
        r1 = cp > 0 ? sprintf("%.2f", m / cp) : "-"
        r2 = cps > 0 ? sprintf("%.2f", m / cps) : "-"
        range = sprintf("%.3f-%.3f", lo[s], hi[s])
        printf "%-15s %4d %8.3f %15s %7.2f %8.0f %8s %10s %7s  %s\n", s, runs[s], m, range, c, files / m, r1, r2, rss[s], (s in note) ? note[s] : "ok"
        md = md sprintf("\n| %s | %d | %.3f | %.3f–%.3f | %.2f | %.0f | %s | %s | %s |", s, runs[s], m, lo[s], hi[s], c, files / m, r1, r2, rss[s])
      }
      print ""
      print md
    }'
}

dump_size() {
  NFILES=$(find "$1" -type f | wc -l)
  NBYTES=$(du -sb "$1" | cut -f1)
  echo "   dump: $NFILES files, $(awk -v b="$NBYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB"
}

synth_failed() {
  echo "bench/run.sh: depot synth failed; see $LAST_STDERR" >&2
  exit 2
}

# The small case: 1,000 files in the page cache, REPS rounds of
#   cp -r, import, cp -r, anonymize, cp -r, export folder, cp -r, export zip, cp -r + sync.
# Everything a round writes stays until the round ends (deleting files just before a timed
# step makes the next file creations slower on ext4 without a journal, which scans past
# recently deleted inodes), then it is removed and synced.
small_case() {
  local dir="$WORK/small" r
  mkdir -p "$dir"
  SAMPLES=()
  echo "== small case: 1,000 files in the page cache, $REPS rounds"
  if [[ -n "$LIKE" ]]; then
    echo "   replicating $LIKE"
    run_once synth "$DEPOT" synth --quiet --out "$dir/dump" --like "$LIKE" \
      --subjects 2 --studies 2 --series 5 --instances 50 --seed 1
  else
    echo "   no real file to replicate (--like): synthetic 512x512 images"
    run_once synth "$DEPOT" synth --quiet --out "$dir/dump" --subjects 1 --studies 2 \
      --series 5 --instances 100 --rows 512 --columns 512 --seed 1
  fi
  (( LAST_CODE == 0 )) || synth_failed
  dump_size "$dir/dump"
  local files=$NFILES bytes=$NBYTES
  # Read the dump once so that it is in the page cache (it was just written; this makes sure).
  find "$dir/dump" -type f -exec cat {} + >/dev/null
  echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for (( r = 1; r <= REPS; r++ )); do
    local o="$dir/round-$r"
    mkdir -p "$o"
    echo "   round $r"
    # With --compare, [B] runs right after (odd rounds) or right before (even rounds).
    local bins=("$DEPOT") tags=("")
    if [[ -n "$COMPARE" ]]; then
      if (( r % 2 )); then bins=("$DEPOT" "$COMPARE"); tags=("" " [B]"); else bins=("$COMPARE" "$DEPOT"); tags=(" [B]" ""); fi
    fi
    local i
    step "cp -r" cp -r "$dir/dump" "$o/copy-1"
    for i in "${!bins[@]}"; do
      step "import${tags[$i]}" "${bins[$i]}" --quiet --archive "$o/archive$i" import "$dir/dump"
    done
    step "cp -r" cp -r "$dir/dump" "$o/copy-2"
    for i in "${!bins[@]}"; do
      step "anonymize${tags[$i]}" "${bins[$i]}" --quiet anonymize --level anonymize-full "$dir/dump" "$o/anon$i"
    done
    step "cp -r" cp -r "$dir/dump" "$o/copy-3"
    for i in "${!bins[@]}"; do
      step "export folder${tags[$i]}" "${bins[$i]}" --quiet --archive "$o/archive$i" export --out "$o/export$i" --level anonymize-full
    done
    step "cp -r" cp -r "$dir/dump" "$o/copy-4"
    for i in "${!bins[@]}"; do
      step "export zip${tags[$i]}" "${bins[$i]}" --quiet --archive "$o/archive$i" export --out "$o/export$i.zip" --level anonymize-full
    done
    step "cp -r + sync" sh -c 'cp -r "$1" "$2" && sync' sh "$dir/dump" "$o/copy-sync"
    rm -rf "$o"
    sync
  done
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  table "small case, $files files, $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB, in the page cache, medians of $REPS rounds" "$files" "$bytes"
  rm -rf "$dir"
}

# The large case: about FILES synthetic files (2 studies per subject, 5 image series of up to
# 100 instances and one SR document per study, every hard case). Each output is removed after
# its step (three dumps' worth of space is needed at most).
large_case() {
  local dir="$WORK/large"
  mkdir -p "$dir"
  SAMPLES=()
  local studies=2 series=5 instances per_subject subjects
  if (( FILES >= studies * (series * 100 + 1) )); then
    instances=100
  else
    instances=$(( (FILES / studies - 1) / series ))
    (( instances >= 1 )) || instances=1
  fi
  per_subject=$(( studies * (series * instances + 1) ))
  subjects=$(( (FILES + per_subject / 2) / per_subject ))
  (( subjects >= 1 )) || subjects=1
  echo
  echo "== large case: $subjects subjects x $studies studies x ($series series x $instances instances + 1 SR), 512x512"
  run_once synth "$DEPOT" synth --quiet --out "$dir/dump" --subjects "$subjects" --studies "$studies" \
    --series "$series" --instances "$instances" --rows 512 --columns 512 --seed 1
  (( LAST_CODE == 0 )) || synth_failed
  dump_size "$dir/dump"
  local files=$NFILES bytes=$NBYTES i
  echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for i in 1 2 3; do
    step "cp -r" cp -r "$dir/dump" "$dir/copy"
    rm -rf "$dir/copy"
    step "cp -r + sync" sh -c 'cp -r "$1" "$2" && sync' sh "$dir/dump" "$dir/copy"
    rm -rf "$dir/copy"
  done
  step import "$DEPOT" --quiet --archive "$dir/archive" import "$dir/dump"
  step anonymize "$DEPOT" --quiet anonymize --level anonymize-full "$dir/dump" "$dir/anon"
  rm -rf "$dir/anon"
  step "export folder" "$DEPOT" --quiet --archive "$dir/archive" export --out "$dir/export" --level anonymize-full
  rm -rf "$dir/export"
  step "export zip" "$DEPOT" --quiet --archive "$dir/archive" export --out "$dir/export.zip" --level anonymize-full
  rm -f "$dir/export.zip"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  table "large case, $files files, $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB, one run per depot step, cp medians of 3" "$files" "$bytes"
  rm -rf "$dir"
}

[[ "$CASE" == large ]] || small_case
[[ "$CASE" == small ]] || large_case

if (( KEEP == 0 )); then
  rm -rf "$WORK"
else
  echo
  echo "scratch folder kept: $WORK"
fi
