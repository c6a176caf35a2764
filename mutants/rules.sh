#!/usr/bin/env bash
# Which suites catch a deliberate change of each Linux rule of the model's kernel
# (mutants/rules/*.patch, each one rule of docs/model.md's "Linux's rules" changed in
# model/src/kernel.rs as a wrong belief about Linux would write it). Each is applied to a
# copy of HEAD and the suites below run against it; a suite catches the change when it fails:
# the real-socket tests of the rules, which do not read the model, and the replay of the CI
# grid's covering set, which does. The first row is HEAD itself, where every suite must pass.
# Prints a table; fails if HEAD fails a suite, a patch no longer applies or builds, or the
# replay misses a change. Needs root and /dev/net/tun for the replay (docs/verification.md).
#
#   mutants/rules.sh
set -euo pipefail
cd "$(dirname "$0")/.."

suites=(
    "Linux rules on sockets|test -q -p linger-check --test linux_rules"
    "conformance replay|run -q --profile test -p linger-check -- --conformance 0 --grid ci --jobs 8 --fail-fast"
)
# One target directory for every copy: each patch rebuilds only linger-check.
export CARGO_TARGET_DIR="$PWD/target/rules-build"
# shellcheck source=mutants/patches.sh
source mutants/patches.sh
patch_table mutants/rules "conformance replay" "${suites[@]}"
