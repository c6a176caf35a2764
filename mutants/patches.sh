# The loop mutants/layers.sh and mutants/rules.sh share (sourced, not run): each patch of a
# folder applied alone to a copy of HEAD, every suite run against the copy, a Markdown table
# of which suites fail ("caught"). The first row is HEAD itself, where every suite must pass.
#
#   patch_table FOLDER REQUIRED "name|cargo arguments"...
#
# REQUIRED names the suite that must catch every patch, or is "any" when one suite catching
# it is enough. Returns 1 if a patch no longer applies or escapes; exits if HEAD fails a suite.
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
            # shellcheck disable=SC2086 # the cargo arguments are words
            if (cd "$tree" && timeout 900 cargo ${suite#*|} >"$scratch/log" 2>&1); then
                row+=" - |"
                continue
            fi
            row+=" caught |"
            if [[ "$patch" == none ]]; then
                tail -n 30 "$scratch/log" >&2
                echo "!! HEAD fails ${suite%%|*}" >&2
                exit 1
            fi
            caught=$((caught + 1))
            [[ "${suite%%|*}" == "$required" ]] && required_caught=true
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
