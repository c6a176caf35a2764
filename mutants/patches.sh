# The loop mutants/layers.sh and mutants/rules.sh share (sourced, not run): each patch of a
# folder applied alone to a copy of HEAD, every suite run against the copy, a Markdown table
# of what each suite did with it. The first row is HEAD itself, where every suite must pass.
#
#   patch_table FOLDER REQUIRED "name|cargo arguments"...
#
# Each suite is `cargo test ...` or `cargo run ...`. It is built first (`cargo test ...
# --no-run`, `cargo build` with the arguments before `--`), then run under a timeout; a cell
# says what happened:
#
#   -          the suite passed
#   caught     a test failed: `cargo test` reported a failed test, or `cargo run`'s program
#              exited 1, its "a check fails" status, or panicked (101)
#   timed out  the run passed PATCH_TIMEOUT seconds (900) and was killed: not caught
#   unbuildable  the suite does not compile with the patch: the patch is stale
#   exit N     anything else (a panic, a program that could not run): an error
#
# REQUIRED names the suite that must catch every patch, or is "any" when one suite catching
# it is enough. Returns 1 if a patch no longer applies or builds, if one escapes, or if a suite
# ends in an error; exits if HEAD fails a suite.
patch_table() {
    local folder=$1 required=$2
    shift 2
    local suites=("$@") scratch header rule status=0
    scratch=$(mktemp -d -t linger-patches.XXXXXX)
    # shellcheck disable=SC2064 # the folder is fixed now
    trap "rm -rf '$scratch'" RETURN
    header="| mutant |"
    rule="|---|"
    for suite in "${suites[@]}"; do
        header+=" ${suite%%|*} |"
        rule+="---|"
    done
    echo "$header"
    echo "$rule"
    for patch in none "$folder"/*.patch; do
        local tree="$scratch/tree" name row caught=0 required_caught=false
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
        for suite in "${suites[@]}"; do
            local outcome
            outcome=$(suite_outcome "$tree" "${suite#*|}" "$scratch/log")
            row+=" $outcome |"
            if [[ "$patch" == none && "$outcome" != - ]]; then
                tail -n 30 "$scratch/log" >&2
                echo "!! HEAD: ${suite%%|*} $outcome" >&2
                exit 1
            fi
            case "$outcome" in
                caught)
                    caught=$((caught + 1))
                    [[ "${suite%%|*}" == "$required" ]] && required_caught=true
                    ;;
                unbuildable)
                    echo "!! $name no longer builds with ${suite%%|*}: write it again" >&2
                    status=1
                    ;;
                exit*)
                    tail -n 30 "$scratch/log" >&2
                    echo "!! $name: ${suite%%|*} ended in an error ($outcome)" >&2
                    status=1
                    ;;
            esac
        done
        echo "$row"
        [[ "$patch" == none ]] && continue
        if [[ "$required" == any && "$caught" -eq 0 ]]; then
            echo "!! $name survives every suite" >&2
            status=1
        elif [[ "$required" != any && "$required_caught" != true ]]; then
            echo "!! $required misses $name" >&2
            status=1
        fi
    done
    return "$status"
}

# What the suite `cargo ARGUMENTS` does in TREE: "-", "caught", "timed out", "unbuildable" or
# "exit N", as patch_table's table says; its output goes to LOG.
suite_outcome() {
    local tree=$1 arguments=$2 log=$3 build code=0
    # shellcheck disable=SC2206 # the cargo arguments are words
    local words=($arguments)
    case "${words[0]}" in
        test) build=("${words[@]}" --no-run) ;;
        run)
            build=(build)
            for word in "${words[@]:1}"; do
                [[ "$word" == -- ]] && break
                build+=("$word")
            done
            ;;
        *)
            echo "exit 2 (not cargo test or cargo run: $arguments)"
            return
            ;;
    esac
    if ! (cd "$tree" && cargo "${build[@]}" >"$log" 2>&1); then
        echo unbuildable
        return
    fi
    (cd "$tree" && timeout "${PATCH_TIMEOUT:-900}" cargo "${words[@]}" >"$log" 2>&1) || code=$?
    if ((code == 0)); then
        echo -
    elif ((code == 124)); then
        echo "timed out"
    elif [[ "${words[0]}" == test ]] && grep -q '^test result: FAILED' "$log"; then
        echo caught
    elif [[ "${words[0]}" == run ]] && ((code == 1 || code == 101)); then
        echo caught
    else
        echo "exit $code"
    fi
}
