#!/usr/bin/env bash
# Which suites catch each mutant in mutants/layers/: the gaps issue 16 found, kept as patches
# (cargo-mutants generates only some of them: it deletes no statement). Each is applied to a
# copy of HEAD and every suite below is run against it; a suite catches the mutant when it
# fails. The first row is HEAD itself, where every suite must pass. Prints a table; fails if
# HEAD fails a suite, a patch no longer applies, or a mutant survives every suite.
#
#   mutants/layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."

suites=(
    "core unit|-p linger --lib"
    "mio unit, integration|-p linger-mio"
    "contract proptest|-p linger-check --test machine_contract"
    "fuzz corpus|-p linger-check --test fuzz_corpus"
    "model|-p linger-check --test model"
    "sockets|-p linger-check --test sockets"
)

scratch=$(mktemp -d -t linger-layers.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# One target directory for every copy: each patch rebuilds only what it touches.
export CARGO_TARGET_DIR="$PWD/target/layers-build"

header="| mutant |"
rule="|---|"
for suite in "${suites[@]}"; do
    header+=" ${suite%%|*} |"
    rule+="---|"
done
echo "$header"
echo "$rule"

status=0
for patch in none mutants/layers/*.patch; do
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
    caught=0
    for suite in "${suites[@]}"; do
        # shellcheck disable=SC2086 # the cargo arguments are words
        if (cd "$tree" && timeout 600 cargo test -q ${suite#*|} >"$scratch/log" 2>&1); then
            row+=" - |"
        else
            row+=" caught |"
            caught=$((caught + 1))
        fi
    done
    echo "$row"
    if [[ "$patch" == none ]] && ((caught > 0)); then
        tail -n 30 "$scratch/log" >&2
        echo "!! HEAD fails a suite" >&2
        exit 1
    fi
    if [[ "$patch" != none ]] && ((caught == 0)); then
        echo "!! $name survives every suite" >&2
        status=1
    fi
done
exit "$status"
