#!/usr/bin/env bash
# depot network benchmark: DCMTK's storescu sending the same synthetic dump, on the same
# machine and in the same run, to DCMTK's own storescp (writing files to a folder) and to
# `depot serve` (filing them into an archive, every instance durable before its Success).
# Loopback only. See docs/performance.md ("Network receive") for the method and the figures.
#
# Usage: bench/network.sh [--files N] [--senders K] [--work DIR] [--rows R] [--columns C] [--keep]
#   --files N     approximate number of files (default 1000)
#   --senders K   also run K storescu processes at once, each with 1/K of the files
#                 (default 4; 1 runs only the single-association case)
# Every case runs twice: with DCMTK as installed (its sockets keep Nagle's algorithm on, which
# costs it a delayed ACK per message) and with TCP_NODELAY=1 in DCMTK's environment (its
# documented switch; both storescu and storescp then answer at once). depot sets TCP_NODELAY
# on its own sockets.
#   --work DIR    scratch folder on the disk to measure (default target/bench-net); emptied
#                 first, removed at the end unless --keep
#   --rows/--columns  image size (default 512 x 512, about 0.5 MB per file)
#
# Needs: cargo, DCMTK (storescu, storescp; Debian: apt-get install dcmtk), free ports 21112-21113.
set -euo pipefail

FILES=1000
SENDERS=4
WORK=""
ROWS=512
COLUMNS=512
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --files) FILES="$2"; shift 2 ;;
    --senders) SENDERS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --columns) COLUMNS="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/network.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
for tool in storescu storescp; do
  command -v "$tool" >/dev/null || { echo "bench/network.sh: $tool not found (apt-get install dcmtk)" >&2; exit 2; }
done

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-$REPO/target/bench-net}"
PORT_SCP=21112
PORT_DEPOT=21113

echo "== building depot (release)"
(cd "$REPO" && cargo build --release -p depot --quiet)
DEPOT="$REPO/target/release/depot"

rm -rf "$WORK"
mkdir -p "$WORK"
cleanup() {
  [[ -n "${SCP_PID:-}" ]] && kill "$SCP_PID" 2>/dev/null || true
  [[ -n "${DEPOT_PID:-}" ]] && kill "$DEPOT_PID" 2>/dev/null || true
  if (( KEEP == 0 )); then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# 5 image series of up to 100 instances per subject (one study), plus its SR document.
INSTANCES=$(( FILES >= 501 ? 100 : (FILES - 1) / 5 ))
(( INSTANCES >= 1 )) || INSTANCES=1
SUBJECTS=$(( (FILES + 5 * INSTANCES) / (5 * INSTANCES + 1) ))
(( SUBJECTS >= 1 )) || SUBJECTS=1
echo "== synth: $SUBJECTS subjects x 1 study x 5 series x $INSTANCES instances, ${ROWS}x${COLUMNS}"
"$DEPOT" synth --out "$WORK/dump" --quiet --subjects "$SUBJECTS" --studies 1 --series 5 \
  --instances "$INSTANCES" --rows "$ROWS" --columns "$COLUMNS"
NFILES=$(find "$WORK/dump" -type f | wc -l)
BYTES=$(du -sb "$WORK/dump" | cut -f1)

# One presentation context per SOP class and transfer syntax of the dump, so that storescu
# sends every file as it is (both receivers store what they get).
cat > "$WORK/scu.cfg" <<'CFG'
[[TransferSyntaxes]]
[LEE]
TransferSyntax1 = LittleEndianExplicit
[LEI]
TransferSyntax1 = LittleEndianImplicit
[BEE]
TransferSyntax1 = BigEndianExplicit
[DEF]
TransferSyntax1 = DeflatedLittleEndianExplicit
[JPB]
TransferSyntax1 = JPEGBaseline
[[PresentationContexts]]
[Synth]
PresentationContext1 = MRImageStorage\LEE
PresentationContext2 = MRImageStorage\LEI
PresentationContext3 = MRImageStorage\BEE
PresentationContext4 = MRImageStorage\DEF
PresentationContext5 = EnhancedMRImageStorage\LEE
PresentationContext6 = EnhancedMRImageStorage\LEI
PresentationContext7 = UltrasoundImageStorage\JPB
PresentationContext8 = ComprehensiveSRStorage\LEE
PresentationContext9 = ComprehensiveSRStorage\LEI
[[Profiles]]
[Synth]
PresentationContexts = Synth
CFG

# The file list split into K parts (by position, so each part mixes every series).
split_list() {
  local k=$1
  find "$WORK/dump" -type f | sort > "$WORK/all.txt"
  rm -f "$WORK"/part.*
  awk -v k="$k" -v dir="$WORK" '{ print > (dir "/part." (NR % k)) }' "$WORK/all.txt"
}

now() { date +%s.%N; }

# send K PORT CALLED: K storescu processes at once; prints seconds.
send() {
  local k=$1 port=$2 called=$3
  split_list "$k"
  local start pids=() status=0
  start=$(now)
  for part in "$WORK"/part.*; do
    # shellcheck disable=SC2046
    TCP_NODELAY=$NODELAY storescu -q -aet BENCH -aec "$called" -xf "$WORK/scu.cfg" Synth -nh 127.0.0.1 "$port" \
      $(cat "$part") &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  echo "$(now) - $start" | bc
  return $status
}

wait_port() {
  local port=$1
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench/network.sh: nothing listens on $port" >&2; exit 2
}

declare -a ROWS_OUT
measure() {
  local label=$1 k=$2 kind=$3
  sync
  if [[ "$kind" == storescp ]]; then
    rm -rf "$WORK/rx"; mkdir -p "$WORK/rx"
    TCP_NODELAY=$NODELAY storescp --fork -aet STORESCP +xa -pdu 131072 -od "$WORK/rx" "$PORT_SCP" >/dev/null 2>&1 &
    SCP_PID=$!
    wait_port "$PORT_SCP"
    local secs
    secs=$(send "$k" "$PORT_SCP" STORESCP)
    local synced
    synced=$( { s=$(now); sync; echo "$(now) - $s" | bc; } )
    kill "$SCP_PID"; wait "$SCP_PID" 2>/dev/null || true; SCP_PID=""
    local got; got=$(find "$WORK/rx" -type f | wc -l)
    ROWS_OUT+=("$(printf '%-34s %7.2f s %8.0f files/s %7.1f MB/s  (+ sync %.2f s)  %s files' \
      "$label" "$secs" "$(echo "$NFILES / $secs" | bc -l)" "$(echo "$BYTES / 1000000 / $secs" | bc -l)" "$synced" "$got")")
  else
    rm -rf "$WORK/archive"
    "$DEPOT" --archive "$WORK/archive" serve --bind 127.0.0.1 --port "$PORT_DEPOT" --aet DEPOT \
      $kind 2>"$WORK/serve.log" &
    DEPOT_PID=$!
    wait_port "$PORT_DEPOT"
    local secs
    secs=$(send "$k" "$PORT_DEPOT" DEPOT)
    kill -INT "$DEPOT_PID"; wait "$DEPOT_PID" || true; DEPOT_PID=""
    local got; got=$("$DEPOT" --archive "$WORK/archive" query instances --format csv | tail -n +2 | wc -l)
    ROWS_OUT+=("$(printf '%-34s %7.2f s %8.0f files/s %7.1f MB/s  %s instances' \
      "$label" "$secs" "$(echo "$NFILES / $secs" | bc -l)" "$(echo "$BYTES / 1000000 / $secs" | bc -l)" "$got")")
  fi
}

echo "== $NFILES files, $(echo "$BYTES / 1000000" | bc) MB, $(nproc) CPUs, $(date -u +%Y-%m-%d)"
for NODELAY in 0 1; do
  ROWS_OUT+=("-- DCMTK with TCP_NODELAY=$NODELAY")
  measure "storescp, 1 association" 1 storescp
  measure "depot serve, 1 association" 1 ""
  measure "depot serve --unsafe-no-fsync, 1" 1 "--unsafe-no-fsync"
  if (( SENDERS > 1 )); then
    measure "storescp --fork, $SENDERS associations" "$SENDERS" storescp
    measure "depot serve, $SENDERS associations" "$SENDERS" ""
  fi
done
echo
printf '%s\n' "${ROWS_OUT[@]}"
