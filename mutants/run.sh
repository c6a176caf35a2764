#!/usr/bin/env bash
# Mutation testing: cargo-mutants (.cargo/mutants.toml) crate by crate, each crate's
# mutants against the tests meant to catch them. In linger, linger-io and linger-mio every
# mutant must be caught: the run fails on a survivor not argued equivalent in
# mutants/equivalent.txt, and on an entry there that no longer survives (the list must stay
# true). linger-std and linger-tokio are reported, their survivors listed. Each mutant is
# caught (a test failed), missed (every test passed), timed out (the tests ran past the
# timeout: not caught; where every mutant must be caught it fails the run, as a survivor does,
# since a hang is for a test with a deadline of its own to turn into a failure) or unviable
# (it does not build: a mutation the type checker refuses, which says nothing of the tests).
# A tree that does not build, or whose tests fail, without any mutant fails the run, saying
# which.
#
#   mutants/run.sh                    # linger, linger-io, linger-mio (14 min here)
#   mutants/run.sh all                # and linger-std, linger-tokio
#   mutants/run.sh model              # the model's kernel, against the replay (root)
#   mutants/run.sh linger-io ...      # the crates named
#   mutants/run.sh all --in-diff F    # only the mutants on lines the diff F touches (CI)
#   mutants/run.sh model --in-diff F --no-baseline   # the tests already passed: not again
#
# Each crate's results go to target/mutation/CRATE/mutants.out (caught.txt, missed.txt,
# timeout.txt, unviable.txt, and a log per mutant). Installs cargo-mutants and cargo-nextest
# if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

in_diff=()
baseline=()
crates=()
while (($#)); do
    case "$1" in
        --in-diff)
            in_diff=(--in-diff "$2")
            shift 2
            ;;
        --no-baseline)
            # The unmutated tests are taken as passing (CI has just run them); each mutant's
            # run is then cut at 10 minutes, which no passing run of any crate's tests nears.
            baseline=(--baseline=skip --timeout 600)
            shift
            ;;
        all)
            crates+=(linger linger-io linger-mio linger-std linger-tokio)
            shift
            ;;
        linger | linger-io | linger-mio | linger-std | linger-tokio | model)
            crates+=("$1")
            shift
            ;;
        *)
            echo "usage: mutants/run.sh [all | CRATE... | model] [--in-diff DIFF] [--no-baseline]" >&2
            exit 2
            ;;
    esac
done
((${#crates[@]})) || crates=(linger linger-io linger-mio)

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install --locked cargo-mutants
fi
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

# cargo-mutants builds in a scratch copy of the tree. One target directory for every run
# compiles the dependencies once, not once per crate, and keeps them for the next run.
export CARGO_TARGET_DIR="$PWD/target/mutants-build"

# The tests each crate's mutants face: the crate's own; linger-std and linger-tokio also
# face linger-check's real-socket scenarios (they run every driver); the model's kernel, in
# linger-model, its tests and linger-check's that drive the model, the replay on this kernel
# among them (mutants/model.toml, which also says which files). Sets `tests` to cargo-mutants
# options.
tests_for() {
    case "$1" in
        model) tests=(--config mutants/model.toml --package linger-model
            --test-package linger-model,linger-check) ;;
        linger) tests=(--features std) ;; # `Clock` and its tests are behind `std`
        linger-io | linger-mio) tests=() ;;
        linger-std | linger-tokio)
            # The unmutated run tests only the mutated crate (cargo-mutants' rule), where the
            # filter may leave nothing: that is no failure. linger-tokio's HTTP layer faces
            # the axum and hyper servers too (seconds; the real clients take longer).
            local filter="package($1) | binary(sockets) | binary(sockets_connection)"
            [[ $1 == linger-tokio ]] && filter+=" | binary(http_server) | binary(http_hyper)"
            tests=(--test-package "$1,linger-check" --cargo-test-arg=--no-tests=pass
                --cargo-test-arg=-E "--cargo-test-arg=$filter")
            ;;
    esac
}

# Where each crate's sources are, as mutant names and mutants/equivalent.txt spell them.
directory_of() {
    case "$1" in
        linger) echo core ;;
        model) echo model/src ;;
        *) echo "drivers/${1#linger-}" ;;
    esac
}

# What no test caught (line and column dropped, so the names survive edits elsewhere).
missed_in() {
    sed -E 's/:[0-9]+:[0-9]+: /: /' "$1/missed.txt" 2>/dev/null | sort || true
}

known_equivalent() {
    grep -E "^$1/" mutants/equivalent.txt | sort || true
}

# The crates whose every mutant must be caught.
must_catch_all() {
    case "$1" in
        linger | linger-io | linger-mio | model) return 0 ;;
        *) return 1 ;;
    esac
}

status=0
mkdir -p target/mutation
printf '%-13s %7s %7s %7s %8s %9s %7s\n' crate mutants caught missed timeout unviable time
for crate in "${crates[@]}"; do
    out="target/mutation/$crate"
    log="target/mutation/$crate.log"
    rm -rf "$out"
    tests_for "$crate"
    started=$SECONDS
    code=0
    package=(--package "$crate")
    timeout=()
    if [[ $crate == model ]]; then
        package=()
        # cargo-mutants' unmutated run tests the mutated package alone (linger-model); the
        # suites of linger-check its mutants also face run here, unmutated, first: they must
        # pass, and three times their time (and a minute) is each mutant's timeout. In a
        # target directory of their own: cargo would take the test binaries cargo-mutants built
        # in its scratch copy of the tree for fresh, and they read files from that copy.
        if ((${#baseline[@]} == 0)); then
            if ! CARGO_TARGET_DIR="$PWD/target/mutants-unmutated" cargo nextest run \
                --cargo-profile mutants-model --profile model-mutants \
                -p linger-model -p linger-check >"$log.unmutated" 2>&1; then
                tail -n 20 "$log.unmutated" >&2
                echo "!! model: the tests fail without any mutant (log: $log.unmutated)" >&2
                status=1
                continue
            fi
            timeout=(--timeout $((3 * (SECONDS - started) + 60)))
        fi
    fi
    cargo mutants "${package[@]}" "${tests[@]}" "${in_diff[@]}" "${baseline[@]}" \
        "${timeout[@]}" --output "$out" --no-shuffle >"$log" 2>&1 || code=$?
    took=$((SECONDS - started))
    results="$out/mutants.out/outcomes.json"
    if [[ ! -f "$results" ]]; then
        if ((code == 0)); then
            # An empty diff, or one that touches nothing of this crate: nothing to run.
            printf '%-13s %7s   (none to test, %ss)\n' "$crate" 0 "$took"
            continue
        fi
        tail -n 20 "$log" >&2
        echo "!! cargo mutants failed for $crate (exit $code, log: $log)" >&2
        status=1
        continue
    fi
    jq -r --arg crate "$crate" --arg took "${took}s" \
        '[$crate, .total_mutants, .caught, .missed, .timeout, .unviable, $took] | @tsv' \
        "$results" | xargs printf '%-13s %7s %7s %7s %8s %9s %7s\n'
    # The unmutated tree, unless skipped: which phase failed, and how.
    unmutated=$(jq -r '.outcomes[0] | select(.scenario == "Baseline")
        | if .summary == "Success" then "passes"
          else (.phase_results[-1] | "\(.phase) \(.process_status | tostring)") end' \
        "$results")
    case "$unmutated" in
        passes | "") ;;
        Build*)
            echo "!! $crate: the tree does not build without any mutant (log: $log)" >&2
            status=1
            continue
            ;;
        *Timeout*)
            echo "!! $crate: the tests time out without any mutant (log: $log)" >&2
            status=1
            continue
            ;;
        *)
            echo "!! $crate: the tests fail without any mutant (log: $log)" >&2
            status=1
            continue
            ;;
    esac
    timeouts="$out/mutants.out/timeout.txt"
    if [[ -s "$timeouts" ]] && ! must_catch_all "$crate"; then
        echo "   $crate: timed out, not caught (reported, not required):"
        sed 's/^/     /' "$timeouts"
    elif [[ -s "$timeouts" ]]; then
        echo "!! $crate: timed out, not caught (a test must fail, not hang):" >&2
        sed 's/^/     /' "$timeouts" >&2
        status=1
    fi
    directory=$(directory_of "$crate")
    if ! must_catch_all "$crate"; then
        if [[ -s "$out/mutants.out/missed.txt" ]]; then
            echo "   $crate: survivors (reported, not required):"
            sed 's/^/     /' "$out/mutants.out/missed.txt"
        fi
        continue
    fi
    unexplained=$(comm -23 <(missed_in "$out/mutants.out") <(known_equivalent "$directory"))
    if [[ -n "$unexplained" ]]; then
        echo "!! $crate: survivors not argued equivalent in mutants/equivalent.txt:" >&2
        sed 's/^/     /' <<<"$unexplained" >&2
        status=1
    fi
    if ((${#in_diff[@]} == 0)); then
        stale=$(comm -13 <(missed_in "$out/mutants.out") <(known_equivalent "$directory"))
        if [[ -n "$stale" ]]; then
            echo "!! $crate: in mutants/equivalent.txt but no longer surviving:" >&2
            sed 's/^/     /' <<<"$stale" >&2
            status=1
        fi
    fi
done
exit "$status"
