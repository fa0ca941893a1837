#!/usr/bin/env bash
# Whole-process benchmark of mailconf (issue 8; see BENCHMARKS.md).
#
#   tools/bench/run.sh                 # N = 1, 1,000, 10,000, 100,000 (release build)
#   MAX_N=1000000 tools/bench/run.sh   # also 1,000,000
#   MAX_N=10000 tools/bench/run.sh     # stop at 10,000
#   tools/bench/run.sh --smoke         # CI: N = 1 and 100, one run each, the criterion
#                                      # benches once in test mode; exit 1 on any error
#
# Environment: MAX_N (largest N, default 100000), NS (comma-separated list
# of N, default 1,1000,10000,100000,1000000 cut at MAX_N), REPS (runs per
# measurement), TIMEOUT (seconds per run, default 900), WORK (scratch
# directory, default ${TMPDIR:-/tmp}/mailconf-bench; needs room for two
# output trees of 2N files), CARGO_TARGET_DIR (honoured), JSON (where to
# write the results, default $WORK/results.json), QUIET_WAIT (seconds to
# wait before each run for other processes to leave the CPUs idle, default
# 60; 0 disables). Extra arguments go to
# tools/bench/bench.py (e.g. --keep).
#
# Requires: cargo, python3, a C compiler (cc) for the measuring helper
# tools/bench/spawn.c (without it peak RSS is not measured); postconf and doveconf for the configuration
# baseline (left out with a note when missing). Run it on a quiet machine:
# other builds running at the same time distort the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."

smoke=0
args=()
for a in "$@"; do
    case "$a" in
        --smoke) smoke=1 ;;
        *) args+=("$a") ;;
    esac
done

WORK=${WORK:-${TMPDIR:-/tmp}/mailconf-bench}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# Built executable of a target, from cargo's JSON messages.
executable() {
    python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == want and m.get("executable"):
        print(m["executable"])
' "$1"
}

# The measuring helper (exact peak RSS); without a C compiler, RSS is n/a.
spawn=()
if command -v cc >/dev/null 2>&1 && cc -O2 -o "$WORK/spawn" tools/bench/spawn.c; then
    spawn=(--spawn "$WORK/spawn")
fi

if [ "$smoke" = 1 ]; then
    # Debug profile: reuses what `cargo test` built; this checks that the
    # benchmarks compile and work, it measures nothing worth keeping.
    echo "== building (dev profile)"
    cargo build --locked --bin mailconf --message-format=json-render-diagnostics >"$WORK/build.json"
    mailconf=$(executable mailconf <"$WORK/build.json")
    cargo build --locked --bench gen-tree --message-format=json-render-diagnostics >"$WORK/build-gen.json"
    gen=$(executable gen-tree <"$WORK/build-gen.json")
    echo "== criterion benches, once each (test mode)"
    BENCH_NS=${BENCH_NS:-200} cargo test --locked -q \
        --bench parsers --bench autoconfig --bench pipeline --bench gen-tree
    echo "== whole-process runs"
    python3 tools/bench/bench.py --mailconf "$mailconf" --gen-tree "$gen" --work "$WORK" \
        --small-root fixtures/deployments/debian-submission/case.in \
        --ns "${NS:-1,100}" --reps "${REPS:-1}" --timeout "${TIMEOUT:-120}" \
        --json "${JSON:-$WORK/results.json}" "${spawn[@]}" "${args[@]}"
    # large.sh needs root and loop devices and runs for an hour: only parsed here.
    bash -n tools/bench/large.sh
    echo "bench smoke: ok"
    exit 0
fi

echo "== building (release)"
cargo build --release --bin mailconf --message-format=json-render-diagnostics >"$WORK/build.json"
mailconf=$(executable mailconf <"$WORK/build.json")
cargo build --release --bench gen-tree --message-format=json-render-diagnostics >"$WORK/build-gen.json"
gen=$(executable gen-tree <"$WORK/build-gen.json")

reps=()
if [ -n "${REPS:-}" ]; then reps=(--reps "$REPS"); fi
exec python3 tools/bench/bench.py --mailconf "$mailconf" --gen-tree "$gen" --work "$WORK" \
    --small-root fixtures/deployments/debian-submission/case.in \
    --ns "${NS:-1,1000,10000,100000,1000000}" --max-n "${MAX_N:-100000}" \
    --timeout "${TIMEOUT:-900}" --json "${JSON:-$WORK/results.json}" \
    --quiet-wait "${QUIET_WAIT:-60}" "${spawn[@]}" "${reps[@]}" "${args[@]}"
