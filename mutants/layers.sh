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
    "core unit|test -q -p linger --lib"
    "mio unit, integration|test -q -p linger-mio"
    "contract proptest|test -q -p linger-check --test machine_contract"
    "fuzz corpus|test -q -p linger-check --test fuzz_corpus"
    "model|test -q -p linger-check --test model"
    "sockets|test -q -p linger-check --test sockets"
)
# One target directory for every copy: each patch rebuilds only what it touches.
export CARGO_TARGET_DIR="$PWD/target/layers-build"
# shellcheck source=mutants/patches.sh
source mutants/patches.sh
patch_table mutants/layers any "${suites[@]}"
