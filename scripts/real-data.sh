#!/usr/bin/env bash
# Real data nobody here wrote: the DICOM test files shipped in the PyPI packages pydicom,
# pydicom-data and deid-data (a few hundred files, many odd on purpose), imported, exported at
# anonymize-full and basic to a folder and a zip, anonymized outside the archive; and a dump made
# from one real vendor file (pydicom's GE CT), which must export at anonymize-full with no finding.
#
# Not part of CI (it downloads packages). See docs/real-data.md for what it checks and the
# figures of the last run.
#
#   scripts/real-data.sh [--work DIR] [--keep]
#
# Needs python3 with venv and pip, network access to PyPI, and cargo. Exit 0 when every check
# held, 1 when one did not (the summary says which), 2 when the run itself failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
root=$PWD
work=$root/target/real-data
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$(realpath -m "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "real-data: unknown argument $1" >&2; exit 2 ;;
  esac
done

die() { echo "real-data: $*" >&2; exit 2; }
failures=0
check() { # check NAME CONDITION-DESCRIPTION OK(0/1)
  if [ "$3" = 0 ]; then echo "  ok    $1: $2"; else echo "  FAIL  $1: $2"; failures=$((failures + 1)); fi
}

# The versions the figures in docs/real-data.md were measured with.
packages=(pydicom==3.0.2 pydicom-data==1.0.0 deid-data==0.0.20)

mkdir -p "$work" || die "cannot create $work"
venv=$work/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
"$venv/bin/pip" install -q "${packages[@]}" || die "pip install ${packages[*]} failed"

# Every file the three packages ship as test data (Python sources and caches aside), copied
# under their package-relative paths; the copies are the input, the venv stays untouched.
rm -rf "$work/in" "$work/archive" "$work/packages" "$work/anon" "$work/vendor" "$work/logs"
mkdir -p "$work/in" "$work/packages" "$work/logs"
"$venv/bin/python" - "$work/in" <<'PY' || die "cannot collect the test files"
import pathlib, shutil, sys, importlib.util
out = pathlib.Path(sys.argv[1])
def pkg_dir(name):
    spec = importlib.util.find_spec(name)
    return pathlib.Path(spec.origin).parent
sources = {
    "pydicom": pkg_dir("pydicom") / "data",
    "pydicom-data": pkg_dir("data_store") / "data",
    "deid-data": pkg_dir("deid_data") / "data",
}
n = 0
for label, base in sources.items():
    for p in sorted(base.rglob("*")):
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts:
            dest = out / label / p.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            n += 1
print(f"collected {n} files", file=sys.stderr)
PY
ct=$("$venv/bin/python" -c 'import pydicom.data, pathlib; print(pathlib.Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm")')

echo "== building depot (release)"
cargo build --release --locked -p depot -q || die "cargo build failed"
depot=$root/target/release/depot
files=$(find "$work/in" -type f | wc -l)
bytes=$(du -sb "$work/in" | cut -f1)
echo "== $files files, $((bytes / 1000000)) MB, from ${packages[*]}"

echo "== import"
"$depot" --archive "$work/archive" import "$work/in" --json >"$work/logs/import.json" 2>"$work/logs/import.log"
code=$?
[ $code -le 1 ] || die "import failed (exit $code), see $work/logs/import.log"
"$venv/bin/python" - "$work/logs/import.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("  " + ", ".join(f"{k} {s[k]}" for k in ("files_seen", "imported", "duplicates", "conflicts", "rejected", "skipped")))
PY

# One export: prints whether it was published or quarantined, and every finding.
export_one() { # LEVEL OUT
  local level=$1 out=$2 name
  name=$(basename "$out")
  "$depot" --archive "$work/archive" export --out "$out" --level "$level" -q \
    >"$work/logs/export-$name.out" 2>"$work/logs/export-$name.log"
  local code=$?
  case $code in
    0) local advisory
       advisory=$(grep -c "audit (advisory" "$work/logs/export-$name.log")
       echo "  $name: published ($advisory advisory finding(s))"
       grep "audit (advisory\|audit (accepted" "$work/logs/export-$name.log" | sed 's/^/      /' ;;
    1) local id
       id=$(grep -o "quarantine as Q[0-9A-Z]*" "$work/logs/export-$name.log" | head -n1 | cut -d' ' -f3)
       [ -n "$id" ] || die "export $name exited 1 without a quarantine ID, see $work/logs/export-$name.log"
       echo "  $name: QUARANTINED as $id"
       "$depot" --archive "$work/archive" review "$id" --json >"$work/logs/review-$name.json"
       "$venv/bin/python" - "$work/logs/review-$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fs = r.get("findings", [])
print(f"      {r['blocking']} blocking, {r['advisory']} advisory, {r['accepted']} accepted")
for f in fs:
    state = "blocking" if f.get("blocking") else "advisory"
    print(f"      {f['id']:>4} {state:<8} {f['message']}")
PY
       ;;
    *) die "export $name failed (exit $code), see $work/logs/export-$name.log" ;;
  esac
  return $code
}

echo "== exports of the archive"
declare -A outcome
for level in anonymize-full basic; do
  for out in "$work/packages/$level" "$work/packages/$level.zip"; do
    export_one "$level" "$out"
    outcome[$(basename "$out")]=$?
  done
done

echo "== depot anonymize --level anonymize-full (outside the archive)"
"$depot" anonymize --level anonymize-full -q "$work/in" "$work/anon" >"$work/logs/anonymize.out" 2>"$work/logs/anonymize.log"
code=$?
[ $code -le 1 ] || die "anonymize failed (exit $code), see $work/logs/anonymize.log"
written=$(find "$work/anon" -type f -name '*.dcm' | wc -l)
rejected=$(grep -c "^depot: /" "$work/logs/anonymize.log")
echo "  $written files written, $rejected rejected (reasons in $work/logs/anonymize.log):"
grep "^depot: /" "$work/logs/anonymize.log" | sed -E 's#^depot: [^ ]*/in/##' | sed 's/^/      /'

echo "== a dump made from a real vendor file (pydicom's CT_small.dcm, GE): 2 x 2 x 5 x 50"
"$depot" synth --like "$ct" --subjects 2 --studies 2 --series 5 --instances 50 --out "$work/vendor/dump" -q ||
  die "depot synth --like failed"
"$depot" --archive "$work/vendor/archive" import "$work/vendor/dump" -q 2>"$work/logs/vendor-import.log" ||
  die "vendor import failed, see $work/logs/vendor-import.log"
"$depot" --archive "$work/vendor/archive" export --out "$work/vendor/package" --level anonymize-full -q \
  2>"$work/logs/vendor-export.log"
vendor=$?
vendor_findings=$(grep -c "audit (" "$work/logs/vendor-export.log")
echo "  export anonymize-full: exit $vendor, $vendor_findings finding(s)"

echo "== checks"
check "vendor dump" "exports at anonymize-full with zero findings" $([ "$vendor" = 0 ] && [ "$vendor_findings" = 0 ] && echo 0 || echo 1)
for name in "${!outcome[@]}"; do
  check "$name" "published, or quarantined for review (see the findings above)" $([ "${outcome[$name]}" -le 1 ] && echo 0 || echo 1)
done
if [ "$keep" = 0 ]; then
  rm -rf "$work/in" "$work/archive" "$work/packages" "$work/anon" "$work/vendor"
  echo "(work files removed; logs kept in $work/logs; --keep keeps everything)"
fi
[ $failures = 0 ] && exit 0 || exit 1
