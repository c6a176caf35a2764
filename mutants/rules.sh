#!/usr/bin/env bash
# Which suites catch a deliberate change of each Linux rule of the model's kernel
# (mutants/rules/*.patch, each one rule of docs/model.md's "Linux's rules" changed in
# tests/src/model/kernel.rs as a wrong belief about Linux would write it). Each is applied to a
# copy of HEAD and the suites below run against it; a suite catches the change when it fails:
# the real-socket tests of the rules, which do not read the model, and the replay of the
# covering set, which does. The first row is HEAD itself, where every suite must pass. Prints
# a table; fails if HEAD fails a suite, a patch no longer applies, or the replay misses a
# change. Needs root and /dev/net/tun for the replay (docs/verification.md).
#
#   mutants/rules.sh
set -euo pipefail
cd "$(dirname "$0")/.."

suites=(
    "Linux rules on sockets|test -q -p linger-check --test linux_rules"
    "conformance replay|run -q --profile test -p linger-check -- --conformance 0 --jobs 4"
)

scratch=$(mktemp -d -t linger-rules.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# One target directory for every copy: each patch rebuilds only linger-check.
export CARGO_TARGET_DIR="$PWD/target/rules-build"

header="| changed rule |"
rule="|---|"
for suite in "${suites[@]}"; do
    header+=" ${suite%%|*} |"
    rule+="---|"
done
echo "$header"
echo "$rule"

status=0
for patch in none mutants/rules/*.patch; do
    tree="$scratch/tree"
    rm -rf "$tree"
    mkdir -p "$tree"
    git archive HEAD | tar -x -C "$tree"
    if [[ "$patch" != none ]] && ! patch -s -d "$tree" -p1 <"$patch"; then
        echo "!! $patch no longer applies to HEAD: write it again" >&2
        status=1
        continue
    fi
    name=$(basename "$patch" .patch)
    row="| $name |"
    replay_caught=false
    for suite in "${suites[@]}"; do
        # shellcheck disable=SC2086 # the cargo arguments are words
        if (cd "$tree" && timeout 900 cargo ${suite#*|} >"$scratch/log" 2>&1); then
            row+=" - |"
        else
            row+=" caught |"
            if [[ "$patch" == none ]]; then
                tail -n 30 "$scratch/log" >&2
                echo "!! HEAD fails ${suite%%|*}" >&2
                exit 1
            fi
            [[ "${suite%%|*}" == "conformance replay" ]] && replay_caught=true
        fi
    done
    echo "$row"
    if [[ "$patch" != none && "$replay_caught" != true ]]; then
        echo "!! the conformance replay misses $name" >&2
        status=1
    fi
done
exit "$status"
