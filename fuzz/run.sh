#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) and fails on any crash.
#
#   fuzz/run.sh 600          # ten minutes per target, with nightly and AddressSanitizer
#   SANITIZER=none fuzz/run.sh 60   # quicker: no sanitizer (also what CI uses)
#
# New inputs go to fuzz/corpus/TARGET (committed seeds live there too); crashes go to
# fuzz/artifacts/TARGET and are printed with the command that reproduces them.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
sanitizer="${SANITIZER:-address}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "usage: fuzz/run.sh SECONDS (a positive whole number)" >&2
    exit 2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh needs the nightly toolchain (cargo +nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

status=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    log="$(mktemp -t "linger-fuzz-$target.XXXXXX.log")"
    echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer), log: $log"
    code=0
    cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || code=$?
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done [0-9]+ runs' \
        "$log" || true
    if ((code != 0)); then
        tail -n 40 "$log" >&2
        echo "!! $target failed (exit $code); crashing inputs are in fuzz/artifacts/$target" >&2
        status=1
    fi
done
exit "$status"
